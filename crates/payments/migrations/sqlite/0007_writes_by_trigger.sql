-- Each version of a payment gets its history row from the database itself, in the statement
-- that makes the version: the insert (version 1) and every save that moves `version` on. One
-- round trip less per write, and no writer can forget the history. `note` is the latest
-- version's note (why it changed), copied into its history row.
ALTER TABLE payments ADD COLUMN note TEXT;
-- Set by a save that lets the payment's bill go: the save's trigger deletes the bill lock, so a
-- save is one statement whatever it does (and runs in autocommit when it is alone).
ALTER TABLE payments ADD COLUMN release_bill INTEGER NOT NULL DEFAULT 0;

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

CREATE TRIGGER payments_release_bill AFTER UPDATE OF version ON payments
    WHEN NEW.version <> OLD.version AND NEW.release_bill = 1
BEGIN
    DELETE FROM bill_locks
    WHERE restaurant_id = NEW.restaurant_id AND bill_id = NEW.bill_id AND payment_id = NEW.id;
END;
