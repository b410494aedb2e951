-- PostgreSQL twin of migrations/sqlite/0005 (see there).
CREATE TABLE restaurants (
    id             TEXT COLLATE "C" PRIMARY KEY,
    display_name   TEXT NOT NULL,
    pos_kind       TEXT NOT NULL,
    currency       TEXT NOT NULL,
    currency_scale BIGINT NOT NULL,
    pos_settings   TEXT NOT NULL,
    pos_secrets    TEXT NOT NULL,
    expirenza      TEXT,
    enabled        BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    version        BIGINT NOT NULL
);
