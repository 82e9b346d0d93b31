-- The role postgres_exporter connects as: pg_monitor (read the statistics views and settings),
-- nothing else, a few connections at most. Run as the superuser by both stacks on every start
-- (stack/local.py; Compose's postgres_exporter_setup), so it is idempotent; the password comes from
-- the environment (POSTGRES_MONITORING_PASSWORD), never from a command line
-- (unset, `:'password'` stays as written and the ALTER ROLE fails).
\set ON_ERROR_STOP on
\getenv password POSTGRES_MONITORING_PASSWORD
SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'monitoring') AS missing \gset
\if :missing
  CREATE ROLE monitoring LOGIN;
\endif
ALTER ROLE monitoring WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION CONNECTION LIMIT 5
  PASSWORD :'password';
GRANT pg_monitor TO monitoring;
