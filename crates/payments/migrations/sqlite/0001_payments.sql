-- Payments: one row per idempotency key. The row is written before anything is sent to a POS.
CREATE TABLE payments (
    id              TEXT PRIMARY KEY,          -- UUIDv7: time-ordered, used for paging
    idempotency_key TEXT NOT NULL UNIQUE,      -- one posting per key, enforced here
    restaurant_id   TEXT NOT NULL,
    bill_id         TEXT NOT NULL,
    amount          TEXT NOT NULL,             -- decimal string with a dot
    tips            TEXT NOT NULL,
    scale           INTEGER NOT NULL,
    tenders         TEXT NOT NULL,             -- JSON
    fiscal_data     TEXT NOT NULL,             -- JSON object
    close           INTEGER NOT NULL,
    state           TEXT NOT NULL,
    step            TEXT NOT NULL,             -- work still owed: post | close | reconcile | done
    substate        TEXT,
    pos_code        TEXT,
    pos_text        TEXT,
    pos_reference   TEXT,
    bill_before     TEXT,                      -- JSON snapshot read just before posting
    attempts        INTEGER NOT NULL DEFAULT 0,
    checks          INTEGER NOT NULL DEFAULT 0,-- reconciliation reads after an unknown outcome
    next_attempt_at INTEGER NOT NULL,          -- unix ms
    lease_owner     TEXT,                      -- the worker that holds the payment now
    lease_until     INTEGER,
    version         INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

-- What workers scan for: open work whose time has come.
CREATE INDEX payments_due ON payments (next_attempt_at) WHERE step <> 'done' AND state <> 'needs_attention';
CREATE INDEX payments_bill ON payments (restaurant_id, bill_id);
CREATE INDEX payments_state ON payments (state, id);

-- One payment at a time may be posting to (or reconciling with) a bill. Together with reading the
-- amount due from the POS under this lock, this keeps concurrent payments from overpaying a bill.
CREATE TABLE bill_locks (
    restaurant_id TEXT NOT NULL,
    bill_id       TEXT NOT NULL,
    payment_id    TEXT NOT NULL,
    acquired_at   INTEGER NOT NULL,
    PRIMARY KEY (restaurant_id, bill_id)
);

-- Every state change, for support and audits.
CREATE TABLE payment_events (
    payment_id TEXT NOT NULL,
    version    INTEGER NOT NULL,
    at         INTEGER NOT NULL,
    state      TEXT NOT NULL,
    step       TEXT NOT NULL,
    substate   TEXT,
    pos_code   TEXT,
    pos_text   TEXT,
    note       TEXT,
    PRIMARY KEY (payment_id, version)
);
