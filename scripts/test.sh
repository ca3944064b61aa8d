#!/usr/bin/env bash
# Runs every test on a fresh Debian 12 machine: installs what the tests need, then `npm test`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/check-node.sh
scripts/debian-packages.sh test
npm ci --no-audit --no-fund
# The QEMU end-to-end tests boot the ramdisk: build it first (zstd -3: seconds instead of a minute).
npm run ramdisk -- --compress zstd3
npm test
# The same code on the other supported Node lines (22 and 24).
scripts/test-node-versions.sh
