-- thaw database schema, version 1. Applied once by the migration runner (PRAGMA user_version).
-- Migrations hold table changes only; the views (trial_summary, trial_metrics, transfer_gain)
-- live in views.sql and are recreated after the migrations.

CREATE TABLE sweeps (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,      -- the grid's `name:`
    description TEXT NOT NULL DEFAULT '',
    spec_path   TEXT NOT NULL,             -- the grid file as given on the command line
    spec_yaml   TEXT NOT NULL,             -- the grid file's text at the latest run
    created_at  TEXT NOT NULL,             -- RFC 3339, UTC
    updated_at  TEXT NOT NULL
);

CREATE TABLE trials (
    id              INTEGER PRIMARY KEY,
    sweep_id        INTEGER NOT NULL REFERENCES sweeps(id),
    key             TEXT NOT NULL,         -- hash of config + data fingerprint + code version
    status          TEXT NOT NULL CHECK (status IN
                      ('pending','running','completed','failed','diverged','interrupted')),
    config_json     TEXT NOT NULL,         -- the resolved TrialSpec
    -- the grid axes, copied out of config_json so SQL can group by them
    backbone        TEXT NOT NULL,
    pretrained      INTEGER NOT NULL,      -- 1 = fine-tuned from the source checkpoint, 0 = from scratch
    freeze          TEXT NOT NULL,         -- as written: '0', '2', 'all'
    frozen_blocks   INTEGER NOT NULL,      -- resolved count
    source_dataset  TEXT NOT NULL,
    target_dataset  TEXT NOT NULL,
    train_per_class INTEGER NOT NULL,
    shift           TEXT NOT NULL,         -- label, e.g. 'none', 'rotate 45'
    shift_kind      TEXT NOT NULL,
    shift_magnitude REAL NOT NULL,
    schedule        TEXT NOT NULL,         -- label, e.g. 'cosine(warmup 1) lr=0.01'
    lr              REAL NOT NULL,
    optimizer       TEXT NOT NULL,         -- 'sgd' or 'adamw'
    seed            INTEGER NOT NULL,
    epochs          INTEGER NOT NULL,
    batch_size      INTEGER NOT NULL,
    position        INTEGER NOT NULL,      -- order of the trial in the expanded grid
    started_at      TEXT,
    finished_at     TEXT,
    device          TEXT,
    error           TEXT,
    UNIQUE (sweep_id, key)
);
CREATE INDEX trials_status ON trials(sweep_id, status);

-- Long format. Epoch 0 holds evaluations of the model before fine-tuning.
-- Names: the registry in src/metrics/names.rs (train_loss, val_acc, ..., lr/<block>, ...).
CREATE TABLE metrics (
    trial_id INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
    epoch    INTEGER NOT NULL,
    name     TEXT NOT NULL,
    value    REAL,                         -- NULL when not finite
    PRIMARY KEY (trial_id, name, epoch)
) WITHOUT ROWID;
CREATE INDEX metrics_by_name ON metrics(name, trial_id);

-- Source-task checkpoints, trained once and shared by every trial that needs them.
CREATE TABLE pretrained (
    key             TEXT PRIMARY KEY,      -- hash of backbone, source task, size, seed, code version
    backbone        TEXT NOT NULL,
    source_dataset  TEXT NOT NULL,
    seed            INTEGER NOT NULL,
    path            TEXT NOT NULL,         -- safetensors file
    source_test_acc REAL,
    seconds         REAL,
    created_at      TEXT NOT NULL
);
