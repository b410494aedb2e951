-- One number that changes whenever any restaurant row does: what a replica's restaurant cache
-- is checked against. Kept by triggers, so every writer (the service, `posgate restaurant
-- import`, a hand-written UPDATE) moves it.
CREATE TABLE registry_generation (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    generation INTEGER NOT NULL
);
INSERT INTO registry_generation (id, generation) VALUES (1, 0);

CREATE TRIGGER restaurants_inserted AFTER INSERT ON restaurants
BEGIN
    UPDATE registry_generation SET generation = generation + 1 WHERE id = 1;
END;

CREATE TRIGGER restaurants_updated AFTER UPDATE ON restaurants
BEGIN
    UPDATE registry_generation SET generation = generation + 1 WHERE id = 1;
END;

CREATE TRIGGER restaurants_deleted AFTER DELETE ON restaurants
BEGIN
    UPDATE registry_generation SET generation = generation + 1 WHERE id = 1;
END;
