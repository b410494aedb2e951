-- PostgreSQL twin of migrations/sqlite/0004 (see there).
ALTER TABLE payments ADD COLUMN card_codes_sealed BIGINT NOT NULL DEFAULT 0;
CREATE INDEX payments_unsealed ON payments (id) WHERE card_codes_sealed = 0;
