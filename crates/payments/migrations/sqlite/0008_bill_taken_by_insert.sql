-- A payment stored already leased to its worker (driven at once) asks for its bill in the same
-- statement: this trigger takes the bill when no other payment holds it, so the insert is one
-- statement (and runs in autocommit when it is alone). Whether the bill was taken is proven
-- where it matters, by the posting's recovery point: that save is refused unless the payment
-- holds its bill (see `save_row`), so nothing is sent to the POS without it. One writer at a
-- time (SQLite), so NOT EXISTS cannot race.
CREATE TRIGGER payments_take_bill AFTER INSERT ON payments
    WHEN NEW.lease_owner IS NOT NULL
BEGIN
    INSERT INTO bill_locks (restaurant_id, bill_id, payment_id, acquired_at)
    SELECT NEW.restaurant_id, NEW.bill_id, NEW.id, NEW.created_at
    WHERE NOT EXISTS (
        SELECT 1 FROM bill_locks WHERE restaurant_id = NEW.restaurant_id AND bill_id = NEW.bill_id
    );
END;
