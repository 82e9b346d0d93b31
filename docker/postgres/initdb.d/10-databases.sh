#!/usr/bin/env bash
# Run once by the postgres image, when its data volume is first initialised: one database and one
# role per service, so the posts API cannot read the token tables and the other way round.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v auth_password="$AUTH_DB_PASSWORD" -v posts_password="$POSTS_DB_PASSWORD" <<'SQL'
CREATE ROLE auth LOGIN PASSWORD :'auth_password';
CREATE DATABASE auth OWNER auth;
REVOKE ALL ON DATABASE auth FROM PUBLIC;
CREATE ROLE posts LOGIN PASSWORD :'posts_password';
CREATE DATABASE posts OWNER posts;
REVOKE ALL ON DATABASE posts FROM PUBLIC;
SQL
