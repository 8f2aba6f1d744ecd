-- thaw database schema, version 1. Applied once by the migration runner (PRAGMA user_version).

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
-- Names: train_loss, train_acc, val_loss, val_acc, test_acc, source_acc, epoch_seconds,
-- and lr/<block> for every block of the backbone and lr/head.
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

-- One row per trial: its parameters and its final and best metrics.
CREATE VIEW trial_summary AS
WITH last AS (
    SELECT trial_id, MAX(epoch) AS epoch FROM metrics WHERE name = 'train_loss' GROUP BY trial_id
), best AS (
    SELECT trial_id, epoch FROM (
        SELECT trial_id, epoch,
               ROW_NUMBER() OVER (PARTITION BY trial_id ORDER BY value ASC, epoch ASC) AS r
        FROM metrics WHERE name = 'val_loss' AND epoch > 0 AND value IS NOT NULL
    ) WHERE r = 1
)
SELECT
    t.id AS trial_id, s.name AS sweep, t.key, t.status,
    t.backbone, t.pretrained, t.freeze, t.frozen_blocks, t.source_dataset, t.target_dataset,
    t.train_per_class, t.shift, t.shift_kind, t.shift_magnitude, t.schedule, t.lr, t.optimizer,
    t.seed, t.epochs, t.batch_size, t.device,
    last.epoch AS final_epoch,
    (SELECT value FROM metrics m WHERE m.trial_id = t.id AND m.epoch = last.epoch AND m.name = 'train_acc') AS final_train_acc,
    (SELECT value FROM metrics m WHERE m.trial_id = t.id AND m.epoch = last.epoch AND m.name = 'val_acc')   AS final_val_acc,
    (SELECT value FROM metrics m WHERE m.trial_id = t.id AND m.epoch = last.epoch AND m.name = 'test_acc')  AS final_test_acc,
    (SELECT value FROM metrics m WHERE m.trial_id = t.id AND m.epoch = last.epoch AND m.name = 'train_loss') AS final_train_loss,
    (SELECT value FROM metrics m WHERE m.trial_id = t.id AND m.epoch = last.epoch AND m.name = 'val_loss')  AS final_val_loss,
    best.epoch AS best_epoch,
    (SELECT value FROM metrics m WHERE m.trial_id = t.id AND m.epoch = best.epoch AND m.name = 'val_acc')  AS best_val_acc,
    (SELECT value FROM metrics m WHERE m.trial_id = t.id AND m.epoch = best.epoch AND m.name = 'test_acc') AS best_test_acc,
    (SELECT value FROM metrics m WHERE m.trial_id = t.id AND m.epoch = 0 AND m.name = 'source_acc')        AS source_acc_pretrained,
    (SELECT value FROM metrics m WHERE m.trial_id = t.id AND m.epoch = last.epoch AND m.name = 'source_acc') AS source_acc_final,
    (SELECT SUM(value) FROM metrics m WHERE m.trial_id = t.id AND m.name = 'epoch_seconds') AS train_seconds,
    t.started_at, t.finished_at, t.error
FROM trials t
JOIN sweeps s ON s.id = t.sweep_id
LEFT JOIN last ON last.trial_id = t.id
LEFT JOIN best ON best.trial_id = t.id;

-- Derived per-trial metrics as defined in DESIGN.md §6.
CREATE VIEW trial_metrics AS
SELECT
    trial_id, sweep, key, status,
    final_train_acc - final_val_acc            AS generalization_gap,
    final_val_loss - final_train_loss          AS loss_gap,
    best_epoch,
    best_test_acc - final_test_acc             AS late_overfit,
    source_acc_pretrained - source_acc_final   AS forgetting,
    source_acc_final - source_acc_pretrained   AS bwt
FROM trial_summary;
