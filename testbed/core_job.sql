-- QFieldCloud's job queue table, as in /work/shared/QFIELDCLOUD.md (opengisch/QFieldCloud v26.25).
-- Loaded into the private test PostgreSQL by scripts/testenv.sh; keep it identical to the real one.
CREATE TABLE IF NOT EXISTS core_job (
  id                 uuid PRIMARY KEY,
  project_id         uuid NOT NULL,
  type               varchar(32) NOT NULL,   -- package | delta_apply | process_projectfile | create_project
  status             varchar(32) NOT NULL DEFAULT 'pending', -- pending|queued|started|finished|stopped|failed
  output             text NULL,
  feedback           jsonb NULL,
  created_by_id      integer NOT NULL,
  triggered_by_id    integer NOT NULL,
  created_at         timestamptz NOT NULL,
  updated_at         timestamptz NOT NULL,
  started_at         timestamptz NULL,
  finished_at        timestamptz NULL,
  docker_started_at  timestamptz NULL,
  docker_finished_at timestamptz NULL,
  container_id       varchar(64) NOT NULL DEFAULT ''
);
