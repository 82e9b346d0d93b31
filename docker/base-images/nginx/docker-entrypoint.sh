#!/bin/sh
# As the official image: run the executable scripts in /docker-entrypoint.d before nginx starts.
set -e
if [ "$1" = nginx ]; then
  for f in /docker-entrypoint.d/*.sh; do
    [ -x "$f" ] && "$f"
  done
fi
exec "$@"
