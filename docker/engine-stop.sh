#!/usr/bin/env bash
# `make engine-stop`: stop the dockerd that docker/ensure-engine.sh started (its PID file), and
# nothing else: an engine started otherwise (systemd, Docker Desktop) is left alone.
set -euo pipefail
pidfile=${DOCKERD_PIDFILE:-/run/oauth2-reference-dockerd.pid}
pid=$(cat "$pidfile" 2>/dev/null || true)
if [ -z "$pid" ] || [ "$(cat "/proc/$pid/comm" 2>/dev/null)" != dockerd ]; then
  rm -f "$pidfile"
  echo "no engine started by this project is running"
  exit 0
fi
echo "stopping dockerd (PID $pid); containers stop with it"
kill -TERM "$pid"
for _ in $(seq 60); do
  kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; echo "stopped"; exit 0; }
  sleep 1
done
echo "dockerd (PID $pid) still runs after 60s" >&2
exit 1
