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
  # Only its promtool is used here; where systemd started the packaged Prometheus, stop and disable it.
  if [[ " ${missing[*]} " == *" prometheus "* ]]; then systemctl disable --now prometheus >/dev/null 2>&1 || true; fi
else
  echo "missing: ${missing[*]}" >&2
  echo "install these packages (Debian/Ubuntu: sudo apt-get install ${missing[*]}) and run make again" >&2
  exit 1
fi
