import { build } from 'esbuild';

/**
 * Gives bundled CommonJS dependencies (express, pino's internals...) a
 * `require`, `__filename` and `__dirname`, which an ESM bundle lacks.
 */
export const AGENT_BANNER = [
  "import { createRequire as __ingotCreateRequire } from 'node:module';",
  "import { fileURLToPath as __ingotFileURLToPath } from 'node:url';",
  "import { dirname as __ingotDirname } from 'node:path';",
  'const require = __ingotCreateRequire(import.meta.url);',
  'const __filename = __ingotFileURLToPath(import.meta.url);',
  'const __dirname = __ingotDirname(__filename);',
].join('\n');

export interface BundleOptions {
  entry: string;
  outfile: string;
}

/**
 * The agent as ONE ES module for node 20+. Native addons cannot be bundled:
 * they are marked external and shipped beside the bundle as `.node` files under
 * /opt/ingot/node_modules (see NATIVE_ADDONS in build-ramdisk.ts).
 */
export async function bundleAgent({ entry, outfile }: BundleOptions): Promise<void> {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    banner: { js: AGENT_BANNER },
    external: ['*.node'],
    legalComments: 'none',
    minify: false,
    logLevel: 'warning',
  });
}
