#!/usr/bin/env bash
# Runs the demo on a fresh Debian 12 machine: a reference conductor and a simulated machine's agent
# pair over HTTPS with a one-time token and run cleaning. Needs no root once the packages are there.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/debian-packages.sh demo
command -v node >/dev/null || { echo "Node.js 20 or later is required (node not found)" >&2; exit 1; }
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run demo -- "$@"
