-- Version 3: split manifests (this version also made trial_summary read each metric once; the
-- views are in views.sql).

-- The files (or `#index` rows of single-file datasets) of every split a trial used.
CREATE TABLE split_files (
    split_key TEXT NOT NULL,               -- hash of dataset fingerprint, classes, size, seed
    split     TEXT NOT NULL CHECK (split IN ('train', 'val', 'test')),
    path      TEXT NOT NULL,
    label     INTEGER NOT NULL,            -- the dataset's label
    PRIMARY KEY (split_key, split, path)
) WITHOUT ROWID;
ALTER TABLE trials ADD COLUMN split_key TEXT;   -- the target task's split
