# Everything a newcomer types. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
# auto: Docker Compose when an engine answers, otherwise the local stack. Or STACK=local / STACK=compose.
STACK ?= auto

.PHONY: help up down dev test test-fast test-faults test-chart venv loadtest loadtest-ui bench bench-tls bench-growth bench-instructions ps logs clean oidc-keys rotate-oidc-key retire-oidc-keys certs base-images engine-stop test-stack

help: ## List every target
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  \033[1m%-18s\033[0m %s\n", $$1, $$2}'

# Two layers: what running the stack needs (`make up`), and on top what tests and benchmarks need.
$(VENV)/.stack: requirements-stack.txt auth_server/requirements.txt resource_api/requirements.txt consumer_demo/requirements.txt common/pyproject.toml
	@stack/bootstrap.sh
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-stack.txt
	@touch $@

$(VENV)/.dev: $(VENV)/.stack requirements-dev.txt stack/bootstrap.sh
	@stack/bootstrap.sh chromium valgrind promtool=prometheus wrk
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	@touch $@

venv: $(VENV)/.stack ## Create the virtualenv with what running the stack needs (system packages too)

dev: $(VENV)/.dev ## Add what tests, load tests and benchmarks need (chromium, valgrind, promtool, wrk, pytest, locust)

up: venv ## Start the stack and wait until it is healthy (STACK=local|compose; SCALE="resource_api=3 auth_server=2")
	$(PY) -m stack up --stack $(STACK) $(if $(SCALE),--scale $(SCALE))

down: venv ## Stop the stack (data is kept)
	$(PY) -m stack down --stack $(STACK)

ps: venv ## Show the stack's containers (or, for the local stack, which parts answer)
	$(PY) -m stack ps --stack $(STACK)

logs: venv ## Follow the stack's logs
	$(PY) -m stack logs --stack $(STACK)

clean: venv ## Delete the stack's data (database, Redis, OIDC key); asks first
	$(PY) -m stack clean --stack $(STACK)

oidc-keys: venv ## List the ID-token signing keys: the one that signs, the previous ones still published
	$(PY) -m stack oidc-keys list --stack $(STACK)

rotate-oidc-key: venv ## New ID-token signing key; the old one stays in JWKS until retired (docs/auth-server.md)
	$(PY) -m stack oidc-keys rotate --stack $(STACK)

retire-oidc-keys: venv ## Unpublish previous signing keys no unexpired ID token needs (ALL=1: every one, now)
	$(PY) -m stack oidc-keys retire --stack $(STACK) $(if $(ALL),--all)

certs: ## Self-signed ECDSA certificate for TLS on https://localhost:8443 (either stack; TLS_PORT in .env)
	@docker/make-certs.sh

base-images: ## Build stand-ins for the official base images, only where no registry is reachable (see docker/README.md)
	@docker/ensure-engine.sh --base-images
	@docker/base-images/build.sh

engine-stop: ## Stop the Docker engine that make up/test-stack started (none other)
	@docker/engine-stop.sh

test: dev ## Run the whole test suite against a throwaway stack it starts itself (the chart's tests: make test-chart)
	$(PY) -m pytest

test-fast: dev ## Only the fast layer: each service's logic in-process, no stack (seconds; also part of make test)
	@for service in auth_server resource_api consumer_demo; do $(PY) -m pytest -q -p no:cacheprovider -o addopts= tests/unit/$$service || exit 1; done

test-faults: dev ## Only the fault suite: Redis, Postgres and process faults under load (also part of make test)
	$(PY) -m pytest tests/faults

test-chart: dev ## Prove the Helm chart offline: lint, render, schema validation, checkov, wiring, network policies (both ways), monitoring objects, install order, X-Forwarded-Proto through nginx
	@deploy/helm/tools.sh >/dev/null
	$(PY) -m pytest -q -p no:cacheprovider -o addopts= tests/chart

test-stack: dev base-images certs ## Build and run the Compose stack in Docker, run the e2e suite against it, tear it down
	$(PY) -m stack.compose_ci

SCENARIO ?= api
DURATION ?= 1m
USERS ?= 20
loadtest: dev ## Load-test the running stack: SCENARIO=token|refresh|api|journey|invalid|mixed DURATION=1m USERS=20 [RATE=req/s]
	$(PY) -m loadtest.run --scenario $(SCENARIO) --duration $(DURATION) --users $(USERS) $(if $(RATE),--rate $(RATE))

loadtest-ui: dev ## Locust's web UI (http://localhost:8089) against the running stack, every scenario to pick from
	$(PY) -m locust -f loadtest/locustfile.py --class-picker

bench: dev ## Benchmark side by side on a throwaway stack (with its Prometheus); writes loadtest/reports/bench.md, bench.png, bench-server.png
	$(PY) -m loadtest.bench

bench-tls: dev ## Token endpoint over TLS on a throwaway stack: keep-alive, new connection per request, resumed; writes loadtest/reports/bench-tls.md
	@stack/bootstrap.sh wrk
	$(PY) -m loadtest.bench_tls

bench-growth: dev ## Benchmark with 1,000,000 expired tokens and cleartokens under traffic; writes loadtest/reports/growth.md
	$(PY) -m loadtest.growth

bench-instructions: dev ## Count CPU instructions per token request (valgrind); AGAINST=<git ref> counts that commit too
	$(PY) -m loadtest.instructions $(if $(AGAINST),--against $(AGAINST))
