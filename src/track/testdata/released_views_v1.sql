-- The views as released with schema version 1 (and 2), verbatim: test fixture for upgrades, never edited.
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
