#!/usr/bin/env bash
# `make certs`: a self-signed ECDSA P-256 certificate for localhost, and the snippet that serves it
# on 8443 in the Compose stack (nginx/templates/default.conf.template includes nginx/certs/*.conf,
# mounted at /etc/nginx/tls; the TLS settings themselves are in that template). The local stack
# serves the same certificate when it finds one here (stack/local.py). For trying TLS locally only;
# browsers will warn, as for any self-signed one.
#
#   docker/make-certs.sh [DIR]     DIR: where to write (default nginx/certs; the tests use their own)
set -euo pipefail
dir="${1:-$(cd "$(dirname "$0")/.." && pwd)/nginx/certs}"
mkdir -p "$dir"
# ECDSA P-256: a handshake signs with it several times faster than with RSA-2048 (docs/performance.md,
# `make bench-tls`), and every browser and TLS library in use accepts it. A certificate of another
# kind (older versions wrote RSA) is replaced.
if [ -f "$dir/localhost.key" ] && openssl pkey -in "$dir/localhost.key" -noout -text 2>/dev/null | grep -q "NIST CURVE: P-256"; then
  echo "$dir already has an ECDSA certificate for localhost (delete it to make a new one)"
else
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 -subj /CN=localhost \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$dir/localhost.key" -out "$dir/localhost.crt" 2>/dev/null
  chmod 600 "$dir/localhost.key"
  echo "$dir: self-signed ECDSA P-256 certificate for localhost"
fi
# Rewritten every time, so that a snippet of an older version never outlives it.
cat > "$dir/tls.conf" <<'CONF'
# Written by `make certs`. Paths are relative to /etc/nginx, where the container mounts this folder.
# Protocols, ciphers and session resumption: nginx/templates/default.conf.template.
listen 8443 ssl;
ssl_certificate tls/localhost.crt;
ssl_certificate_key tls/localhost.key;
CONF
[ -n "${1:-}" ] || echo "after \`make up\`: https://localhost:8443/ (the local stack: https://localhost:\$TLS_PORT/, 8443 unless .env says)"
