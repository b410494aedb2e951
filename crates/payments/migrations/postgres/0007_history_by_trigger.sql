-- PostgreSQL twin of migrations/sqlite/0007 (see there): the history row of each version of a
-- payment is written by the database, in the statement that makes the version.
ALTER TABLE payments ADD COLUMN note TEXT;

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
