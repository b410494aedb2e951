-- The restaurant registry: a restaurant is declared once, at run time (RestaurantService).
CREATE TABLE restaurants (
    id             TEXT PRIMARY KEY,
    display_name   TEXT NOT NULL,
    pos_kind       TEXT NOT NULL,             -- a key of [payments.adapters]
    currency       TEXT NOT NULL,             -- ISO 4217
    currency_scale INTEGER NOT NULL,
    pos_settings   TEXT NOT NULL,             -- JSON object: plain connection settings
    pos_secrets    TEXT NOT NULL,             -- JSON object: name → sealed value (posgate-secrets)
    expirenza      TEXT,                      -- JSON: the channel, its secret_key sealed
    enabled        INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,          -- unix ms
    updated_at     INTEGER NOT NULL,
    version        INTEGER NOT NULL           -- bumped on every change
);
