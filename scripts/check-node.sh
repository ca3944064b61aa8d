#!/usr/bin/env bash
# Checks that the Node.js on PATH is one Ingot supports (package.json "engines": 20.11 or later),
# and says exactly what to do when it is not. Sourced by demo.sh and test.sh.
set -euo pipefail
required_major=20 required_minor=11
if ! command -v node >/dev/null; then
  echo "Ingot needs Node.js ${required_major}.${required_minor} or later, and node is not on PATH." >&2
  echo "Install it: apt-get install -y nodejs npm (Debian 13), or the NodeSource or nodejs.org packages for Node 20 on Debian 12." >&2
  exit 1
fi
version=$(node -p 'process.versions.node')
IFS=. read -r major minor _ <<<"$version"
if [ "$major" -lt "$required_major" ] || { [ "$major" -eq "$required_major" ] && [ "$minor" -lt "$required_minor" ]; }; then
  echo "Ingot needs Node.js ${required_major}.${required_minor} or later; node on PATH ($(command -v node)) is ${version}." >&2
  echo "Install Node 20 or later (NodeSource or nodejs.org packages), or put it first on PATH." >&2
  exit 1
fi
command -v npm >/dev/null || { echo "Ingot needs npm beside node ${version} (apt-get install -y npm, or the nodejs.org package)." >&2; exit 1; }
