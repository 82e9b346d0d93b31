#!/usr/bin/env bash
# Make sure the programs the local stack needs are installed, and those named as arguments: a command
# that comes in the Debian package of the same name, or command=package (`make dev` adds chromium,
# valgrind, promtool=prometheus and wrk).
# As root on Debian, missing packages are installed; elsewhere, what is missing is named.
set -euo pipefail

# command -> Debian package that provides it
declare -A needs=(
  [python3]=python3 [psql]=postgresql-client [redis-server]=redis-server [nginx]=nginx
  [runuser]=util-linux [make]=make
  # Monitoring: Prometheus and the exporters of nginx, Postgres and Redis (docs/observability.md).
  [prometheus]=prometheus [prometheus-nginx-exporter]=prometheus-nginx-exporter
  [prometheus-postgres-exporter]=prometheus-postgres-exporter
  [prometheus-redis-exporter]=prometheus-redis-exporter
)
for extra in "$@"; do needs[${extra%%=*}]=${extra#*=}; done
# initdb/pg_ctl live outside PATH on Debian (/usr/lib/postgresql/N/bin).
have_postgres() { command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; }
has_venv() { python3 -c 'import ensurepip, venv' 2>/dev/null; }

missing=()
for cmd in "${!needs[@]}"; do command -v "$cmd" >/dev/null || missing+=("${needs[$cmd]}"); done
have_postgres || missing+=(postgresql)
has_venv || missing+=(python3-venv)

[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && [ -f /etc/debian_version ]; then
  echo "installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian starts the packaged servers; the stack runs its own, so stop the packaged nginx.
  if [[ " ${missing[*]} " == *" nginx "* ]]; then (service nginx stop || nginx -s quit) >/dev/null 2>&1 || true; fi
  # The stack runs its own Prometheus and exporters on its own ports; where systemd started the
  # packaged ones, stop and disable them.
  for unit in prometheus prometheus-nginx-exporter prometheus-postgres-exporter prometheus-redis-exporter; do
    if [[ " ${missing[*]} " == *" $unit "* ]]; then systemctl disable --now "$unit" >/dev/null 2>&1 || true; fi
  done
else
  echo "missing: ${missing[*]}" >&2
  echo "install these packages (Debian/Ubuntu: sudo apt-get install ${missing[*]}) and run make again" >&2
  exit 1
fi
