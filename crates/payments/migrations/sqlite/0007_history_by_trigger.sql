-- Each version of a payment gets its history row from the database itself, in the statement
-- that makes the version: the insert (version 1) and every save that moves `version` on. One
-- round trip less per write, and no writer can forget the history. `note` is the latest
-- version's note (why it changed), copied into its history row.
ALTER TABLE payments ADD COLUMN note TEXT;

CREATE TRIGGER payments_history_new AFTER INSERT ON payments
BEGIN
    INSERT INTO payment_events (payment_id, version, at, state, step, substate, pos_code, pos_text, note)
    VALUES (NEW.id, NEW.version, NEW.updated_at, NEW.state, NEW.step, NEW.substate, NEW.pos_code, NEW.pos_text, NEW.note);
END;

CREATE TRIGGER payments_history_step AFTER UPDATE OF version ON payments
    WHEN NEW.version <> OLD.version
BEGIN
    INSERT INTO payment_events (payment_id, version, at, state, step, substate, pos_code, pos_text, note)
    VALUES (NEW.id, NEW.version, NEW.updated_at, NEW.state, NEW.step, NEW.substate, NEW.pos_code, NEW.pos_text, NEW.note);
END;
