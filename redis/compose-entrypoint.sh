#!/bin/sh
# Redis as Compose runs it: this deployment's users (users.acl.template beside this file, passwords
# from the environment), then the options Compose passes as arguments (stack/wiring.yaml's, which
# the local stack uses too: persistence and eviction).
set -eu
acl=/tmp/users.acl
umask 077
# The exporter's user only where its password is given (Compose gives it; the Helm chart, which
# runs no exporter, does not): never a user whose password is the placeholder itself.
if [ -n "${REDIS_MONITORING_PASSWORD:-}" ]; then
  monitoring="s|\${REDIS_MONITORING_PASSWORD}|${REDIS_MONITORING_PASSWORD}|"
else
  monitoring='/\${REDIS_MONITORING_PASSWORD}/d'
fi
sed -e '/^#/d' \
    -e "$monitoring" \
    -e "s|\${REDIS_PASSWORD}|${REDIS_PASSWORD:?}|" \
    -e "s|\${REDIS_AUTH_PASSWORD}|${REDIS_AUTH_PASSWORD:?}|" \
    -e "s|\${REDIS_API_PASSWORD}|${REDIS_API_PASSWORD:?}|" \
    -e "s|\${REDIS_DEMO_PASSWORD}|${REDIS_DEMO_PASSWORD:?}|" \
    "$(dirname "$0")/users.acl.template" > "$acl"
# The official image starts as root and drops to `redis`, which must be able to read the file.
if [ "$(id -u)" = 0 ]; then chown redis "$acl"; fi
exec docker-entrypoint.sh redis-server --aclfile "$acl" "$@"
