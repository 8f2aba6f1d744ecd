-- Version 2: who runs a trial, and whether it is still alive.
ALTER TABLE trials ADD COLUMN runner TEXT;              -- 'host:pid:nonce' of the claiming process
ALTER TABLE trials ADD COLUMN heartbeat_at TEXT;        -- refreshed while the trial runs
ALTER TABLE trials ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;  -- claims so far
ALTER TABLE trials ADD COLUMN resumed_from_epoch INTEGER;           -- last resume point, if any
