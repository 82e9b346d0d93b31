#!/usr/bin/env bash
# Make sure a Docker engine answers and Compose is installed, for `make test-stack` on a fresh
# machine. As root on Debian, missing packages are installed (Debian 12: Engine 20.10 and
# docker-compose 1.29) and dockerd is started in the background when no engine answers.
set -euo pipefail

missing=()
command -v docker >/dev/null || missing+=(docker.io)
command -v dockerd >/dev/null || missing+=(docker.io)
docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null || missing+=(docker-compose)
command -v debootstrap >/dev/null || missing+=(debootstrap)  # for docker/base-images/build.sh

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
[ "$(id -u)" = 0 ] || { echo "no Docker engine answers; start one (e.g. sudo systemctl start docker)" >&2; exit 1; }
log=${DOCKERD_LOG:-/var/log/dockerd.log}
echo "starting dockerd (log: $log)"
# Without any descriptor this script inherited beyond stdio: the engine outlives the run, and the
# lock of `flock /tmp/oauth-test-stack.lock make test-stack` held open by dockerd would block every
# later run for as long as the engine lives.
(
  for fd in /proc/$BASHPID/fd/*; do fd=${fd##*/}; [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done
  exec setsid nohup dockerd >"$log" 2>&1 </dev/null
) &
for _ in $(seq 60); do
  docker info >/dev/null 2>&1 && exit 0
  sleep 1
done
echo "dockerd did not answer within 60s; see $log" >&2
exit 1
