-- Bonus points redeemed with a payment, POS-specific options from the caller, and what the POS
-- reported about the posting (e.g. Tillypad's applied discounts).
ALTER TABLE payments ADD COLUMN points TEXT NOT NULL DEFAULT '0';
ALTER TABLE payments ADD COLUMN pos_options TEXT NOT NULL DEFAULT '{}';
ALTER TABLE payments ADD COLUMN pos_details TEXT NOT NULL DEFAULT '{}';
