-- Version 9: early stopping (`early_stop:` in a grid, asynchronous successive halving).

-- A trial stopped at a rung has the status 'pruned'. Adding a name to the CHECK of
-- trials.status changes no stored row, so it is done as SQLite documents for such changes
-- (https://www.sqlite.org/lang_altertable.html, "making other kinds of table schema changes"):
-- the table's CREATE text is edited in place, never by rebuilding trials (its rows are the
-- parents of every metric, ON DELETE CASCADE). `writable_schema = RESET` reloads this
-- connection's schema; the CREATE TABLE below bumps the schema cookie, so other connections
-- reload it too.
PRAGMA writable_schema = ON;
UPDATE sqlite_master
SET sql = replace(sql, '''diverged'',''interrupted'')', '''diverged'',''interrupted'',''pruned'')')
WHERE type = 'table' AND name = 'trials' AND sql NOT LIKE '%''pruned''%';
PRAGMA writable_schema = RESET;

-- Each rung decision of a trial: its metric at the rung, the values it was compared with
-- (its own included) and the verdict. Written in the same write transaction as it is taken,
-- so that two runners never decide from the same stale view; a trial reaching a rung it has
-- already decided (resumed, requeued) reuses this row.
CREATE TABLE rung_decisions (
    trial_id   INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
    rung       INTEGER NOT NULL,           -- the rung's epoch
    epoch      INTEGER NOT NULL,           -- the epoch the value was measured at (>= rung)
    metric     TEXT NOT NULL,              -- 'val_acc' (higher is better) or 'val_loss'
    value      REAL,                       -- NULL: not finite (ranks last)
    compared   INTEGER NOT NULL,           -- values compared, the trial's own included
    cutoff     REAL,                       -- the worst value that continued
    decision   TEXT NOT NULL CHECK (decision IN ('continue', 'stop')),
    decided_at TEXT NOT NULL,              -- RFC 3339, UTC
    PRIMARY KEY (trial_id, rung)
);
