#!/bin/sh
# Redis as the containers run it: this deployment's users (users.acl.template beside this file),
# then the options passed as arguments (stack/wiring.yaml's, which the local stack uses too:
# persistence and eviction). Each password comes from NAME, or from the file NAME_FILE names
# (Compose passes files, so that no password shows in `docker inspect`).
set -eu
secret() {
  eval "file=\${${1}_FILE:-}"
  if [ -n "$file" ]; then
    [ -s "$file" ] || { echo "$0: ${1}_FILE names $file, which is missing or empty" >&2; exit 1; }
    cat "$file"
  else
    eval "printf %s \"\${$1:?$1 or ${1}_FILE must be set}\""
  fi
}
acl=/tmp/users.acl
umask 077
# The exporter's user only where its password is given (Compose gives it; the Helm chart, which
# runs no exporter, does not): never a user whose password is the placeholder itself.
if [ -n "${REDIS_MONITORING_PASSWORD:-}${REDIS_MONITORING_PASSWORD_FILE:-}" ]; then
  monitoring="s|\${REDIS_MONITORING_PASSWORD}|$(secret REDIS_MONITORING_PASSWORD)|"
else
  monitoring='/\${REDIS_MONITORING_PASSWORD}/d'
fi
sed -e '/^#/d' \
    -e "$monitoring" \
    -e "s|\${REDIS_PASSWORD}|$(secret REDIS_PASSWORD)|" \
    -e "s|\${REDIS_AUTH_PASSWORD}|$(secret REDIS_AUTH_PASSWORD)|" \
    -e "s|\${REDIS_API_PASSWORD}|$(secret REDIS_API_PASSWORD)|" \
    -e "s|\${REDIS_DEMO_PASSWORD}|$(secret REDIS_DEMO_PASSWORD)|" \
    "$(dirname "$0")/users.acl.template" > "$acl"
# The official image starts as root and drops to `redis`, which must be able to read the file.
if [ "$(id -u)" = 0 ]; then chown redis "$acl"; fi
exec docker-entrypoint.sh redis-server --aclfile "$acl" "$@"
