-- Version 8: the tracker. Grid versions (trials that left the grid are kept but superseded),
-- the training semantics each trial ran under, where each trial ran (environments), per-class
-- results, notes and tags, and the checkpoints kept as the best models.

-- Grid versions. A sweep's version grows by one each time `thaw run` finds its grid expanding
-- to another set of trials; `sweep_versions` keeps each version's grid text, its trials and
-- what changed. A trial no longer in the grid is kept, marked with the version it left in.
ALTER TABLE sweeps ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
CREATE TABLE sweep_versions (
    sweep_id   INTEGER NOT NULL REFERENCES sweeps(id) ON DELETE CASCADE,
    version    INTEGER NOT NULL,
    spec_yaml  TEXT NOT NULL,              -- the grid file's text
    keys       TEXT NOT NULL,              -- its trials' keys, sorted, one per line ('' before version 8)
    trials     INTEGER NOT NULL,           -- trials in this version of the grid
    added      INTEGER NOT NULL,           -- of which new in this version
    superseded INTEGER NOT NULL,           -- trials of the previous version no longer in it
    created_at TEXT NOT NULL,
    PRIMARY KEY (sweep_id, version)
);
INSERT INTO sweep_versions
SELECT s.id, 1, s.spec_yaml, '', (SELECT count(*) FROM trials t WHERE t.sweep_id = s.id),
       (SELECT count(*) FROM trials t WHERE t.sweep_id = s.id), 0, s.updated_at
FROM sweeps s;

ALTER TABLE trials ADD COLUMN grid_version INTEGER NOT NULL DEFAULT 1;  -- the version that added it
ALTER TABLE trials ADD COLUMN superseded_in INTEGER;  -- the grid version it left; NULL = in the grid
-- The version of thaw's training semantics the trial ran under (hashed into its key); it
-- changes only when a change of thaw alters results. NULL: recorded before version 8.
ALTER TABLE trials ADD COLUMN semantics TEXT;
ALTER TABLE trials ADD COLUMN environment_key TEXT;   -- environments.key of the runner that ran it
CREATE INDEX trials_config ON trials(sweep_id, config_json);

-- Provenance: one row per distinct environment a runner ran in (keyed by a hash of its
-- content, so runners, `--jobs` workers and shards in the same environment share a row).
CREATE TABLE environments (
    key            TEXT PRIMARY KEY,
    thaw_version   TEXT NOT NULL,
    thaw_build     TEXT NOT NULL,          -- thaw's git commit, profile and features
    semantics      TEXT NOT NULL,          -- training semantics version
    grid_path      TEXT,
    grid_commit    TEXT,                   -- the grid file's git commit, when in a repository
    grid_dirty     INTEGER,                -- 1 = the grid file differs from that commit (or is not in it)
    libtorch       TEXT,
    cuda           TEXT,
    cudnn          TEXT,
    device         TEXT,
    gpu_name       TEXT,
    gpu_memory_mib INTEGER,
    cpu_model      TEXT,
    cpu_cores      INTEGER,
    host           TEXT NOT NULL,
    os             TEXT NOT NULL,
    command_line   TEXT NOT NULL,
    record_json    TEXT NOT NULL,          -- the whole record (`thaw doctor --json`)
    created_at     TEXT NOT NULL
);

-- Per-class results at the final epoch: the trial's class names, in the order of its logits,
-- and the confusion counts of its evaluation splits (argmax of the final logits; only non-zero
-- counts are stored; recorded when the trial completes, deleted when it starts over).
CREATE TABLE trial_classes (
    trial_id INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
    class    INTEGER NOT NULL,             -- 0-based position in the classifier's output
    name     TEXT NOT NULL,
    PRIMARY KEY (trial_id, class)
) WITHOUT ROWID;
CREATE TABLE confusion (
    trial_id  INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
    split     TEXT NOT NULL CHECK (split IN ('val', 'test')),
    actual    INTEGER NOT NULL,
    predicted INTEGER NOT NULL,
    count     INTEGER NOT NULL,
    PRIMARY KEY (trial_id, split, actual, predicted)
) WITHOUT ROWID;

-- Notes and tags on a sweep (trial_id NULL) or one of its trials.
CREATE TABLE notes (
    id         INTEGER PRIMARY KEY,
    sweep_id   INTEGER NOT NULL REFERENCES sweeps(id) ON DELETE CASCADE,
    trial_id   INTEGER REFERENCES trials(id) ON DELETE CASCADE,
    text       TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE tags (
    sweep_id   INTEGER NOT NULL REFERENCES sweeps(id) ON DELETE CASCADE,
    trial_id   INTEGER REFERENCES trials(id) ON DELETE CASCADE,
    tag        TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX tags_once ON tags(sweep_id, coalesce(trial_id, 0), tag);

-- Checkpoints kept by `thaw run --keep best`: the fine-tuned network of each winning trial.
CREATE TABLE kept_models (
    trial_id INTEGER PRIMARY KEY REFERENCES trials(id) ON DELETE CASCADE,
    path     TEXT NOT NULL,                -- safetensors file of the whole network
    metric   TEXT NOT NULL,                -- what it won by, e.g. 'best_val_acc'
    value    REAL,
    scope    TEXT NOT NULL,                -- 'sweep' or the configuration group it won
    kept_at  TEXT NOT NULL
);
