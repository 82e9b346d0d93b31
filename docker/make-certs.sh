#!/usr/bin/env bash
# `make certs`: a self-signed certificate for localhost and the nginx snippet that serves it on
# 8443 (nginx/templates/default.conf.template includes nginx/certs/*.conf, mounted at
# /etc/nginx/tls). For trying TLS locally only; browsers will warn, as for any self-signed one.
set -euo pipefail
dir="$(cd "$(dirname "$0")/.." && pwd)/nginx/certs"
if [ -f "$dir/tls.conf" ]; then
  echo "nginx/certs/ already has a certificate (delete the folder to make a new one)"
  exit 0
fi
mkdir -p "$dir"
openssl req -x509 -newkey rsa:2048 -nodes -days 825 -subj /CN=localhost \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
  -keyout "$dir/localhost.key" -out "$dir/localhost.crt" 2>/dev/null
cat > "$dir/tls.conf" <<'CONF'
# Written by `make certs`. Paths are relative to /etc/nginx, where the container mounts this folder.
listen 8443 ssl;
ssl_certificate tls/localhost.crt;
ssl_certificate_key tls/localhost.key;
ssl_protocols TLSv1.2 TLSv1.3;
CONF
echo "nginx/certs/: self-signed certificate for localhost; after \`make up\`: https://localhost:8443/"
