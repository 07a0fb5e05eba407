-- Django's record of applied migrations, as Django creates it, with a row for each
-- migration file the testbed's app carries (testbed/app/src/qfieldcloud/*/migrations).
-- Loaded into the private test PostgreSQL by scripts/testenv.sh after core_job.sql.
CREATE TABLE IF NOT EXISTS django_migrations (
  id      bigserial PRIMARY KEY,
  app     varchar(255) NOT NULL,
  name    varchar(255) NOT NULL,
  applied timestamptz NOT NULL
);
INSERT INTO django_migrations (app, name, applied)
SELECT app, name, now() FROM (VALUES ('core', '0001_initial'), ('core', '0002_job_container_id'), ('project', '0001_initial')) AS m(app, name)
 WHERE NOT EXISTS (SELECT 1 FROM django_migrations d WHERE d.app = m.app AND d.name = m.name);
