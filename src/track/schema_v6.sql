-- Version 6: the report's findings. Every statement the report makes about a sweep (its claim,
-- the verdict of its test, the estimate with its 95% interval, n and the test), replaced as a
-- whole each time the sweep's report is rendered. The `findings` view lists them by sweep name.

CREATE TABLE report_findings (
    sweep_id    INTEGER NOT NULL REFERENCES sweeps(id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,          -- order on the report page, from 0
    section     TEXT NOT NULL,             -- the title of the report cell that states it
    claim       TEXT NOT NULL,
    verdict     TEXT NOT NULL CHECK (verdict IN ('supported', 'contradicted', 'inconclusive')),
    measure     TEXT NOT NULL,             -- mean, difference, Kendall τ, Pearson r, ...
    estimate    REAL,                      -- NULL when undefined
    low         REAL,                      -- the 95% interval; NULL when there is none
    high        REAL,
    n           INTEGER NOT NULL,          -- points (trials, seeds or settings) the test used
    test        TEXT NOT NULL,
    needs       TEXT,                      -- for an inconclusive verdict: roughly what would decide it
    detail      TEXT,
    rendered_at TEXT NOT NULL,             -- RFC 3339, UTC: the render that decided it
    PRIMARY KEY (sweep_id, position)
);
