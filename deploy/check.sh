#!/usr/bin/env bash
# Checks what deploy/ ships, with the tools that read it:
#   - the alert rules: `promtool check rules` and their unit tests
#     (`promtool test rules deploy/prometheus/alerts_test.yml`);
#   - the Prometheus configs: `promtool check config`;
#   - the Compose stack: `docker-compose config` (Debian's docker-compose);
#   - the Kubernetes manifests: `kubernetes-validate --strict` (PyPI, in the
#     services venv).
# Run by scripts/test.sh; installs nothing (deploy/dev/services.sh install does).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO/deploy"
VENV="$(bash "$REPO/deploy/dev/services.sh" python | xargs dirname)"

echo "== promtool check rules"
promtool check rules prometheus/alerts.yml
echo "== promtool test rules"
(cd prometheus && promtool test rules alerts_test.yml)
echo "== promtool check config"
promtool check config --syntax-only prometheus/prometheus.yml
# The compose config names its rule file by its path in the container.
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
sed "s|/etc/prometheus/alerts.yml|$REPO/deploy/prometheus/alerts.yml|" compose/prometheus.yml >"$tmp/prometheus.yml"
promtool check config --syntax-only "$tmp/prometheus.yml"
echo "== docker-compose config"
SUBSIDY_PLATFORM_TOKEN=check docker-compose -f compose/docker-compose.yml config -q
SUBSIDY_PLATFORM_TOKEN=check docker-compose -f compose/docker-compose.yml --profile sim config --services | sort | tr '\n' ' '
echo
echo "== kubernetes-validate"
"$VENV/kubernetes-validate" --strict --quiet k8s/*.yaml
echo "== deploy checks passed"
