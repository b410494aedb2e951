-- One number that changes whenever any restaurant row does, and a notification naming the
-- restaurant on channel `posgate_registry`: what every replica's restaurant cache listens to.
-- Kept by a trigger, so every writer (the service, `posgate restaurant import`, a hand-written
-- UPDATE) moves it.
CREATE TABLE registry_generation (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    generation BIGINT NOT NULL
);
INSERT INTO registry_generation (id, generation) VALUES (1, 0);

CREATE FUNCTION posgate_restaurant_changed() RETURNS trigger AS $$
BEGIN
    UPDATE registry_generation SET generation = generation + 1 WHERE id = 1;
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('posgate_registry', OLD.id);
    ELSE
        PERFORM pg_notify('posgate_registry', NEW.id);
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER restaurants_changed AFTER INSERT OR UPDATE OR DELETE ON restaurants
    FOR EACH ROW EXECUTE FUNCTION posgate_restaurant_changed();
