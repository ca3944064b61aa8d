import { build } from 'esbuild';
import { NATIVE_ADDONS } from './assemble-root.ts';

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
 * Where the @ingot/* packages' `exports` lead to their TypeScript sources: the
 * bundle is built from the sources, never from a package's dist/. `module` is
 * esbuild's default condition, which setting `conditions` would otherwise drop.
 */
const SOURCE_CONDITIONS = ['@ingot/source', 'module'];

/**
 * The agent as ONE ES module for node 20+. Packages with native addons cannot
 * be bundled: they stay external and are shipped beside the bundle under
 * /opt/ingot/node_modules (NATIVE_ADDONS in assemble-root.ts).
 */
export async function bundleAgent({ entry, outfile }: BundleOptions): Promise<void> {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    conditions: SOURCE_CONDITIONS,
    banner: { js: AGENT_BANNER },
    external: ['*.node', ...NATIVE_ADDONS.map((addon) => addon.package)],
    legalComments: 'none',
    minify: false,
    logLevel: 'warning',
  });
}
