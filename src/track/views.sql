-- The views over the tables, in their latest form. Not a migration: after the migrations, the
-- runner (schema.rs) drops every view and runs this file whenever the views in the database
-- differ from the ones it gives, in the same transaction. Edit the views here, and only here;
-- their names and columns are a public contract (`thaw query`, the report, users' SQL).

-- One row per trial of a sweep's current grid (trials that left the grid, `superseded_in` set,
-- are only in the trials table): its parameters, the grid version that added it, the training
-- semantics it ran under, its final and best metrics (best = lowest val_loss after
-- epoch 0 among the fully evaluated epochs, those without `eval_subset`), calibration,
-- forgetting, its domain distance, its tags (`thaw tag --trial`; sorted, comma-joined, NULL
-- when none) and, last, the seconds its epochs spent evaluating (of
-- train_seconds, which is every epoch's whole time) and the parameters it trained in its final
-- epoch. Reads each metric once (joins on the metrics
-- primary key instead of a per-trial scan: linear in the number of trials).
CREATE VIEW trial_summary AS
WITH last AS MATERIALIZED (
    SELECT trial_id, MAX(epoch) AS epoch FROM metrics WHERE name = 'train_loss' GROUP BY trial_id
), best AS MATERIALIZED (
    SELECT trial_id, epoch FROM (
        SELECT trial_id, epoch,
               ROW_NUMBER() OVER (PARTITION BY trial_id ORDER BY value ASC, epoch ASC) AS r
        FROM metrics m WHERE name = 'val_loss' AND epoch > 0 AND value IS NOT NULL
          -- only fully evaluated epochs: subset values (eval_subset) are not comparable
          AND NOT EXISTS (SELECT 1 FROM metrics x WHERE x.trial_id = m.trial_id
                          AND x.epoch = m.epoch AND x.name = 'eval_subset')
    ) WHERE r = 1
), at_last AS MATERIALIZED (
    SELECT m.trial_id,
           MAX(CASE WHEN m.name = 'train_acc'  THEN m.value END) AS train_acc,
           MAX(CASE WHEN m.name = 'val_acc'    THEN m.value END) AS val_acc,
           MAX(CASE WHEN m.name = 'test_acc'   THEN m.value END) AS test_acc,
           MAX(CASE WHEN m.name = 'train_loss' THEN m.value END) AS train_loss,
           MAX(CASE WHEN m.name = 'val_loss'   THEN m.value END) AS val_loss,
           MAX(CASE WHEN m.name = 'source_acc' THEN m.value END) AS source_acc,
           MAX(CASE WHEN m.name = 'ece'         THEN m.value END) AS ece,
           MAX(CASE WHEN m.name = 'ece_ts'      THEN m.value END) AS ece_ts,
           MAX(CASE WHEN m.name = 'temperature' THEN m.value END) AS temperature,
           MAX(CASE WHEN m.name = 'trainable_params' THEN m.value END) AS trainable_params
    FROM last JOIN metrics m ON m.trial_id = last.trial_id AND m.epoch = last.epoch
    GROUP BY m.trial_id
), at_best AS MATERIALIZED (
    SELECT m.trial_id,
           MAX(CASE WHEN m.name = 'val_acc'  THEN m.value END) AS val_acc,
           MAX(CASE WHEN m.name = 'test_acc' THEN m.value END) AS test_acc
    FROM best JOIN metrics m ON m.trial_id = best.trial_id AND m.epoch = best.epoch
    GROUP BY m.trial_id
), totals AS MATERIALIZED (
    SELECT trial_id,
           MAX(CASE WHEN name = 'source_acc' AND epoch = 0 THEN value END) AS source_acc_pretrained,
           SUM(CASE WHEN name = 'epoch_seconds' THEN value END) AS train_seconds,
           SUM(CASE WHEN name = 'eval_seconds' AND epoch > 0 THEN value END) AS eval_seconds
    FROM metrics WHERE name IN ('source_acc', 'epoch_seconds', 'eval_seconds')
    GROUP BY trial_id
), trial_tags AS MATERIALIZED (
    SELECT trial_id, group_concat(tag) AS tags  -- joined by commas
    FROM (SELECT trial_id, tag FROM tags WHERE trial_id IS NOT NULL ORDER BY trial_id, tag)
    GROUP BY trial_id
)
SELECT
    t.id AS trial_id, s.name AS sweep, t.key, t.status,
    t.backbone, t.pretrained, t.freeze, t.frozen_blocks, t.source_dataset, t.target_dataset,
    t.train_per_class, t.shift, t.shift_kind, t.shift_magnitude, t.schedule, t.lr, t.optimizer,
    t.seed, t.epochs, t.batch_size, t.precision, t.max_length, t.device,
    t.grid_version, t.semantics, t.environment_key,
    last.epoch AS final_epoch,
    at_last.train_acc AS final_train_acc,
    at_last.val_acc AS final_val_acc,
    at_last.test_acc AS final_test_acc,
    at_last.train_loss AS final_train_loss,
    at_last.val_loss AS final_val_loss,
    best.epoch AS best_epoch,
    at_best.val_acc AS best_val_acc,
    at_best.test_acc AS best_test_acc,
    totals.source_acc_pretrained,
    at_last.source_acc AS source_acc_final,
    totals.train_seconds,
    totals.source_acc_pretrained - at_last.source_acc AS forgetting,
    at_last.source_acc - totals.source_acc_pretrained AS bwt,
    at_last.train_acc - at_last.val_acc AS generalization_gap,
    at_last.ece, at_last.ece_ts, at_last.temperature,
    d.proxy_a AS proxy_a_distance, d.mmd2, d.frechet AS frechet_distance,
    t.started_at, t.finished_at, t.error,
    trial_tags.tags,
    totals.eval_seconds, CAST(at_last.trainable_params AS INTEGER) AS trainable_params
FROM trials t
JOIN sweeps s ON s.id = t.sweep_id
LEFT JOIN last ON last.trial_id = t.id
LEFT JOIN at_last ON at_last.trial_id = t.id
LEFT JOIN best ON best.trial_id = t.id
LEFT JOIN at_best ON at_best.trial_id = t.id
LEFT JOIN totals ON totals.trial_id = t.id
LEFT JOIN domain_distance d ON d.key = t.domain_key
LEFT JOIN trial_tags ON trial_tags.trial_id = t.id
WHERE t.superseded_in IS NULL;

-- Derived per-trial metrics: the generalization and loss gaps at the final epoch, the best epoch
-- (lowest validation loss), late overfitting, forgetting and backward transfer.
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

-- Fine-tuned minus from-scratch target accuracy for the same backbone, target, size, shift,
-- schedule, optimizer, epochs, batch size, precision, max_length, seed and training semantics, both
-- in the sweep's current grid. Negative = negative transfer.
CREATE VIEW transfer_gain AS
SELECT f.trial_id, f.sweep, f.key, f.backbone, f.freeze, f.train_per_class, f.shift,
       f.schedule, f.precision, f.seed,
       f.final_test_acc AS finetuned_acc,
       s.final_test_acc AS scratch_acc,
       f.final_test_acc - s.final_test_acc AS transfer_gain,
       s.trial_id AS scratch_trial_id
FROM trial_summary f
JOIN trial_summary s
  ON s.sweep = f.sweep AND s.pretrained = 0 AND s.status = 'completed'
 AND s.backbone = f.backbone AND s.target_dataset = f.target_dataset
 AND s.train_per_class = f.train_per_class AND s.shift = f.shift AND s.schedule = f.schedule
 AND s.optimizer = f.optimizer AND s.seed = f.seed AND s.epochs = f.epochs
 AND s.batch_size = f.batch_size AND s.precision = f.precision
 AND s.max_length IS f.max_length AND s.semantics IS f.semantics
WHERE f.pretrained = 1 AND f.status = 'completed';

-- The report's findings by sweep: every statement with its verdict, estimate, 95% interval
-- (NULL where there is none), n and test, as of the sweep's latest rendered report.
CREATE VIEW findings AS
SELECT s.name AS sweep, f.position, f.section, f.claim, f.verdict, f.measure, f.estimate,
       f.low, f.high, f.n, f.test, f.needs, f.detail, f.rendered_at
FROM report_findings f
JOIN sweeps s ON s.id = f.sweep_id;

-- Per-class results at the final epoch, from the confusion counts: for each trial of a current
-- grid, split ('val' or 'test') and class (0-based output position, with its name), the
-- examples of that class (n), those classified correctly and the accuracy (recall of the
-- class). Σ correct / Σ n over a trial's classes is its final accuracy on that split.
CREATE VIEW class_accuracy AS
SELECT c.trial_id, s.name AS sweep, t.key, c.split, c.actual AS class, tc.name,
       SUM(c.count) AS n,
       SUM(CASE WHEN c.predicted = c.actual THEN c.count ELSE 0 END) AS correct,
       CAST(SUM(CASE WHEN c.predicted = c.actual THEN c.count ELSE 0 END) AS REAL)
           / SUM(c.count) AS accuracy
FROM confusion c
JOIN trials t ON t.id = c.trial_id
JOIN sweeps s ON s.id = t.sweep_id
LEFT JOIN trial_classes tc ON tc.trial_id = c.trial_id AND tc.class = c.actual
WHERE t.superseded_in IS NULL
GROUP BY c.trial_id, c.split, c.actual;
