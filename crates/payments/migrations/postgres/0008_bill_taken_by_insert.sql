-- PostgreSQL twin of migrations/sqlite/0008 (see there): a payment stored leased to its worker
-- takes its bill, when free, in the insert's own statement. Concurrent inserts for one bill
-- race here, so the lock's primary key decides (ON CONFLICT DO NOTHING), never an error.
CREATE FUNCTION posgate_take_bill() RETURNS trigger AS $$
BEGIN
    INSERT INTO bill_locks (restaurant_id, bill_id, payment_id, acquired_at)
    VALUES (NEW.restaurant_id, NEW.bill_id, NEW.id, NEW.created_at)
    ON CONFLICT (restaurant_id, bill_id) DO NOTHING;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER payments_take_bill AFTER INSERT ON payments
    FOR EACH ROW WHEN (NEW.lease_owner IS NOT NULL)
    EXECUTE FUNCTION posgate_take_bill();
