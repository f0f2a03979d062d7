-- The zoo's table, created at build time.
CREATE TABLE zoo_animal (id integer PRIMARY KEY, name text NOT NULL, legs integer NOT NULL);
INSERT INTO zoo_animal VALUES (1, 'ant', 6), (2, 'bear', 4), (3, 'crane', 2), (4, 'dolphin', 0);
CREATE INDEX zoo_animal_legs ON zoo_animal (legs);
