#!/usr/bin/env bash
# Run once by the postgres image, when its data volume is first initialised: one database and one
# role per service, so the posts API cannot read the token tables and the other way round. Each
# password comes from NAME, or from the file NAME_FILE names (Compose passes files, so that no
# password stays in the container's environment).
set -euo pipefail
secret() {
  local file_var="${1}_FILE"
  if [ -n "${!file_var:-}" ]; then
    [ -s "${!file_var}" ] || { echo "$0: $file_var names ${!file_var}, which is missing or empty" >&2; exit 1; }
    cat "${!file_var}"
  else
    printf %s "${!1:?$1 or ${1}_FILE must be set}"
  fi
}
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v auth_password="$(secret AUTH_DB_PASSWORD)" -v posts_password="$(secret POSTS_DB_PASSWORD)" <<'SQL'
CREATE ROLE auth LOGIN PASSWORD :'auth_password';
CREATE DATABASE auth OWNER auth;
REVOKE ALL ON DATABASE auth FROM PUBLIC;
CREATE ROLE posts LOGIN PASSWORD :'posts_password';
CREATE DATABASE posts OWNER posts;
REVOKE ALL ON DATABASE posts FROM PUBLIC;
SQL
