#!/bin/sh
# As the official image does: without a config file, listen on every interface of the container.
set -e
if [ "$1" = redis-server ]; then
  shift
  set -- redis-server --protected-mode no "$@"
fi
exec "$@"
