/**
 * The agent as its ramdisk runs it: image-build's esbuild bundle of
 * agent/src/main.ts, one ES module run with plain `node` (no tsx, no flags).
 * `npm run agent` and the demo run this file, so what they show is what a
 * booted node runs. The native addons (zstd-napi) stay outside the bundle and
 * resolve from the repository's node_modules: build/agent/ is inside its reach.
 *
 * Run as a script (`tsx test/support/agent-bundle.ts`), it writes the bundle
 * and prints nothing; `npm run agent` then starts `node build/agent/ingot-agent.mjs`.
 */
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleAgent } from '@ingot/image-build';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Where `npm run agent` and the demo find the bundled agent. */
export const AGENT_BUNDLE = join(REPO_ROOT, 'build', 'agent', 'ingot-agent.mjs');

/**
 * Bundles the agent's sources into AGENT_BUNDLE and returns its path. Always
 * rebuilt: esbuild takes about 0.3 s, less than judging staleness across the
 * sources of two packages and their dependencies would be worth. Written
 * beside the target and renamed, so an agent starting from it meanwhile (a
 * second demo, a test) never reads half a file.
 */
export async function buildAgentBundle(outfile = AGENT_BUNDLE): Promise<string> {
  mkdirSync(dirname(outfile), { recursive: true });
  const partial = `${outfile}.${process.pid}.partial.mjs`;
  try {
    await bundleAgent({ entry: join(REPO_ROOT, 'agent', 'src', 'main.ts'), outfile: partial });
    renameSync(partial, outfile);
  } finally {
    rmSync(partial, { force: true });
  }
  return outfile;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await buildAgentBundle();
}
