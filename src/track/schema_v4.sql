-- Version 4: evaluation science. Domain distances computed once per (pretrained checkpoint,
-- target task, shift). (This version also added calibration, forgetting and domain distance to
-- trial_summary and the transfer_gain view; the views are in views.sql.)

CREATE TABLE domain_distance (
    key            TEXT PRIMARY KEY,       -- hash of pretrained key, target data, classes, shift, size
    pretrained_key TEXT NOT NULL,
    target_dataset TEXT NOT NULL,
    shift          TEXT NOT NULL,
    proxy_a        REAL,                   -- 2(1 - 2 eps), linear source-vs-target classifier
    mmd2           REAL,                   -- unbiased MMD^2, RBF kernel at the median distance
    frechet        REAL,                   -- Frechet distance of Gaussian fits
    n_source       INTEGER NOT NULL,
    n_target       INTEGER NOT NULL,
    created_at     TEXT NOT NULL
);
ALTER TABLE trials ADD COLUMN domain_key TEXT;
