-- unprobed-mariadb's database, created at build time. The probe reads zoo.animal
-- only; zoo.keeper is asked about without having been probed.
CREATE DATABASE zoo;
CREATE TABLE zoo.animal (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL, legs INT NOT NULL) ENGINE=InnoDB;
INSERT INTO zoo.animal VALUES (1, 'ant', 6), (2, 'bear', 4), (3, 'crane', 2), (4, 'dolphin', 0);
CREATE INDEX animal_legs ON zoo.animal (legs);
CREATE TABLE zoo.keeper (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL, animal_id INT NOT NULL,
                         FOREIGN KEY (animal_id) REFERENCES zoo.animal (id)) ENGINE=InnoDB;
INSERT INTO zoo.keeper VALUES (1, 'ada', 2), (2, 'bo', 4), (3, 'cy', 1);
-- The client connects over TCP from 127.0.0.1 without a password, as the zoo's
-- PostgreSQL trusts 127.0.0.1.
CREATE USER 'zoo'@'127.0.0.1';
GRANT ALL PRIVILEGES ON *.* TO 'zoo'@'127.0.0.1';
