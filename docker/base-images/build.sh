#!/usr/bin/env bash
# Build look-alike stand-ins for the official base images, for machines that can reach package
# registries (Debian, PyPI) but no container registry, such as our CI. See docker/README.md.
#
# Each image is tagged with the official name the Dockerfiles and docker-compose.yml use, and is
# skipped if an image of that name already exists (a real one pulled from Docker Hub, or a stand-in
# built earlier): Docker keeps them between runs, so only the first run pays for this.
set -euo pipefail
cd "$(dirname "$0")"

DEBIAN=debian:bookworm-slim
# stand-in directory -> the official tag it imitates (Debian 12's versions of each program)
declare -A IMAGES=(
  [python]=python:3.11-slim-bookworm
  [postgres]=postgres:15-bookworm
  [redis]=redis:7.0-bookworm
  [nginx]=nginx:1.22
  [prometheus]=prom/prometheus:v2.42.0
  [nginx-exporter]=nginx/nginx-prometheus-exporter:0.11.0
  [postgres-exporter]=prometheuscommunity/postgres-exporter:v0.11.1
  [redis-exporter]=oliver006/redis_exporter:v1.45.0
)
DESCRIPTION="stand-in built by docker/base-images/build.sh, not the official image"

have() { docker image inspect "$1" >/dev/null 2>&1; }
label() { docker image inspect --format "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null; }
# A stand-in carries the digest of its directory and is rebuilt when that changed; an image of the
# name that is not a stand-in (the official one) is always kept.
digest() { (cd "$1" && find . -type f | sort | xargs sha256sum | sha256sum | cut -c1-16); }

if ! have "$DEBIAN"; then
  echo "building $DEBIAN with debootstrap"
  rootfs=$(mktemp -d)
  trap 'rm -rf "$rootfs"' EXIT
  debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >/dev/null
  # Like the official slim image: no package cache, lists fetched by whoever installs packages.
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | docker import --change 'CMD ["bash"]' --change "LABEL org.opencontainers.image.description=\"$DESCRIPTION\"" - "$DEBIAN" >/dev/null
fi

for name in python postgres redis nginx prometheus nginx-exporter postgres-exporter redis-exporter; do
  tag=${IMAGES[$name]}
  if have "$tag"; then
    [ "$(label "$tag" org.opencontainers.image.description)" = "$DESCRIPTION" ] || continue
    [ "$(label "$tag" oauth2-reference.stand-in-digest)" = "$(digest "$name")" ] && continue
  fi
  echo "building stand-in $tag"
  context=$(mktemp -d)
  cp -r "$name"/. "$context"/
  # Builds inside containers reach the registries through the same TLS-inspecting proxy as this
  # machine, so the images trust the CAs this machine added (none, on an ordinary machine).
  mkdir "$context/extra-ca"
  cp /usr/local/share/ca-certificates/*.crt "$context/extra-ca/" 2>/dev/null || true
  docker build -q --label "org.opencontainers.image.description=$DESCRIPTION" \
    --label "oauth2-reference.stand-in-digest=$(digest "$name")" -t "$tag" "$context" >/dev/null
  rm -rf "$context"
done
