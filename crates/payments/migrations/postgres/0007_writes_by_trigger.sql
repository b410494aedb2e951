-- PostgreSQL twin of migrations/sqlite/0007 (see there): the history row of each version of a
-- payment is written by the database, in the statement that makes the version.
ALTER TABLE payments ADD COLUMN note TEXT;
ALTER TABLE payments ADD COLUMN release_bill BIGINT NOT NULL DEFAULT 0;

CREATE FUNCTION posgate_payment_history() RETURNS trigger AS $$
BEGIN
    INSERT INTO payment_events (payment_id, version, at, state, step, substate, pos_code, pos_text, note)
    VALUES (NEW.id, NEW.version, NEW.updated_at, NEW.state, NEW.step, NEW.substate, NEW.pos_code, NEW.pos_text, NEW.note);
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER payments_history_new AFTER INSERT ON payments
    FOR EACH ROW EXECUTE FUNCTION posgate_payment_history();

CREATE TRIGGER payments_history_step AFTER UPDATE OF version ON payments
    FOR EACH ROW WHEN (NEW.version IS DISTINCT FROM OLD.version)
    EXECUTE FUNCTION posgate_payment_history();

CREATE FUNCTION posgate_release_bill() RETURNS trigger AS $$
BEGIN
    DELETE FROM bill_locks
    WHERE restaurant_id = NEW.restaurant_id AND bill_id = NEW.bill_id AND payment_id = NEW.id;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER payments_release_bill AFTER UPDATE OF version ON payments
    FOR EACH ROW WHEN (NEW.version IS DISTINCT FROM OLD.version AND NEW.release_bill = 1)
    EXECUTE FUNCTION posgate_release_bill();
