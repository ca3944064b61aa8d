#!/usr/bin/env bash
# Runs the demo on a fresh Debian 12 machine: a reference conductor and a simulated machine's agent
# pair over HTTPS with a one-time token, run cleaning, then deploy a whole-disk image generated on the
# spot (sgdisk, mkfs.ext4 -d, zstd) and verified from the host; then snapshot that disk into a real Swift on 127.0.0.1
# and restore it onto a second simulated machine, compared byte for byte. Needs no root once the packages are there.
# INGOT_DEMO_IMAGE_MIB (or --image-mib) sets the image size, 16 to 3072 MiB (default 256); INGOT_DEMO_KEEP=1 keeps
# the files, which are otherwise removed whatever the end (success, failure, Ctrl-C). Exit 0, 1, 2 (usage), 130.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/check-node.sh
scripts/debian-packages.sh demo
# npm ci again when package-lock.json changed since the last install (a pull that added a dependency).
[ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund
npm run demo -- "$@"
