-- Card codes are sealed (AES-256-GCM, posgate-secrets) inside `tenders` since this version. Rows
-- written before it hold them in plaintext and are 0 here: the store seals them when it opens
-- and sets 1 (new rows are written with 1). The partial index keeps that check instant.
ALTER TABLE payments ADD COLUMN card_codes_sealed INTEGER NOT NULL DEFAULT 0;
CREATE INDEX payments_unsealed ON payments (id) WHERE card_codes_sealed = 0;
