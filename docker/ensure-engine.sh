#!/usr/bin/env bash
# Make sure a Docker engine answers and Compose is installed: `make up STACK=compose`,
# `make test-stack` and `make base-images` run it (`--base-images`: debootstrap too, for
# docker/base-images/build.sh). As root on Debian, missing packages are installed (Debian 12:
# Engine 20.10 and docker-compose 1.29) and dockerd is started in the background when no engine
# answers; its PID is recorded in $DOCKERD_PIDFILE, and `make engine-stop` (docker/engine-stop.sh)
# stops that engine and no other. A docker client already on PATH (a newer one in /usr/local/bin,
# say) stays the one used: only what is missing is installed.
set -euo pipefail

pidfile=${DOCKERD_PIDFILE:-/run/oauth2-reference-dockerd.pid}
log=${DOCKERD_LOG:-/var/log/dockerd.log}

missing=()
# docker.io brings both the engine and a client; it is installed only if one of them is missing.
{ command -v docker >/dev/null && command -v dockerd >/dev/null; } || missing+=(docker.io)
docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null || missing+=(docker-compose)
if [ "${1:-}" = --base-images ]; then
  command -v debootstrap >/dev/null || missing+=(debootstrap)
fi

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && [ -f /etc/debian_version ]; then
    echo "installing: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "missing: ${missing[*]} (Debian/Ubuntu: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
fi

docker info >/dev/null 2>&1 && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "no Docker engine answers; start one (e.g. sudo systemctl start docker), or run as root to let this script start dockerd" >&2
  exit 1
fi
echo "starting dockerd (client: $(command -v docker), $(docker version --format '{{.Client.Version}}' 2>/dev/null); log: $log; stop it with \`make engine-stop\`)"
# dockerd gets none of this script's other open files: a lock that whoever ran it holds (such as
# `flock LOCK make test-stack`) would otherwise stay held for as long as the engine runs.
start_dockerd() {
  local fd
  for fd in $(ls "/proc/$BASHPID/fd"); do
    [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null
  done
  exec setsid dockerd
}
start_dockerd >"$log" 2>&1 </dev/null &
echo $! > "$pidfile"
for _ in $(seq 60); do
  docker info >/dev/null 2>&1 && exit 0
  kill -0 "$(cat "$pidfile")" 2>/dev/null || break
  sleep 1
done
echo "dockerd did not answer within 60s; see $log" >&2
exit 1
