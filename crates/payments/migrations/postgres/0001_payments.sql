-- PostgreSQL twin of migrations/sqlite: same tables and meaning (see there for comments).
CREATE TABLE payments (
    id              TEXT COLLATE "C" PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    restaurant_id   TEXT NOT NULL,
    bill_id         TEXT NOT NULL,
    amount          TEXT NOT NULL,
    tips            TEXT NOT NULL,
    scale           BIGINT NOT NULL,
    tenders         TEXT NOT NULL,
    fiscal_data     TEXT NOT NULL,
    close           BIGINT NOT NULL,
    state           TEXT NOT NULL,
    step            TEXT NOT NULL,
    substate        TEXT,
    pos_code        TEXT,
    pos_text        TEXT,
    pos_reference   TEXT,
    bill_before     TEXT,
    attempts        BIGINT NOT NULL DEFAULT 0,
    checks          BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_owner     TEXT,
    lease_until     BIGINT,
    version         BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

CREATE INDEX payments_due ON payments (next_attempt_at) WHERE step <> 'done' AND state <> 'needs_attention';
CREATE INDEX payments_bill ON payments (restaurant_id, bill_id);
CREATE INDEX payments_state ON payments (state, id);

CREATE TABLE bill_locks (
    restaurant_id TEXT NOT NULL,
    bill_id       TEXT NOT NULL,
    payment_id    TEXT NOT NULL,
    acquired_at   BIGINT NOT NULL,
    PRIMARY KEY (restaurant_id, bill_id)
);

CREATE TABLE payment_events (
    payment_id TEXT NOT NULL,
    version    BIGINT NOT NULL,
    at         BIGINT NOT NULL,
    state      TEXT NOT NULL,
    step       TEXT NOT NULL,
    substate   TEXT,
    pos_code   TEXT,
    pos_text   TEXT,
    note       TEXT,
    PRIMARY KEY (payment_id, version)
);
