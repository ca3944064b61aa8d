/**
 * `deploy --snapshot`: the manifest read (a file, a plain URL, or the store
 * with its credentials) and the image's URL found (signed by the store, given
 * by --image-url, or beside the manifest), turned into the image to deploy.
 */
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { IngotError, redactUrl, type SnapshotManifest } from '@ingot/protocol';
import { UsageError } from '@ingot/protocol/cli';
import { snapshotDeployImage, type DeployImage } from '../conductor/image-info.ts';
import { parseSnapshotManifest } from '../snapshot/snapshot-store.ts';
import type { DeployCommand } from './args.ts';
import { createStoreFromSpec } from './snapshot-options.ts';

const MANIFEST_SUFFIX = '.manifest.json';
const isHttpUrl = (value: string) => /^https?:\/\//i.test(value);

async function readManifestAt(where: string): Promise<SnapshotManifest> {
  if (isHttpUrl(where)) {
    let response: Response;
    try {
      response = await fetch(where, { signal: AbortSignal.timeout(60_000) });
    } catch (error) {
      throw new IngotError('INGOT_SNAPSHOT_MISMATCH', { details: `--snapshot ${redactUrl(where)}: no answer (${(error as Error).message}); is the URL reachable from here?`, cause: error });
    }
    const text = await response.text();
    if (response.status !== 200) throw new IngotError('INGOT_SNAPSHOT_MISMATCH', { details: `--snapshot ${redactUrl(where)}: HTTP ${response.status}; check the manifest URL (or use --snapshot store with --store)` });
    return parseSnapshotManifest(text, `--snapshot ${redactUrl(where)}`);
  }
  let text: string;
  try {
    text = await readFile(where, 'utf8');
  } catch (error) {
    throw new UsageError(`--snapshot ${where}: ${(error as NodeJS.ErrnoException).code ?? String(error)}; give a manifest file, an http(s) URL, or "store"`);
  }
  return parseSnapshotManifest(text, `--snapshot ${where}`);
}

/** The image `deploy --snapshot` deploys; throws a UsageError when nothing says where the image is. */
export async function resolveSnapshotImage(snapshot: NonNullable<DeployCommand['snapshot']>, env: Record<string, string | undefined>, log: Logger): Promise<DeployImage> {
  const store = snapshot.store ? createStoreFromSpec(snapshot.store, env, log) : undefined;
  const manifest = snapshot.manifest === 'store' && store ? await store.readManifest() : await readManifestAt(snapshot.manifest);
  const url = snapshot.imageUrl
    ?? (store ? await store.readUrl(snapshot.store!.urlTtlSeconds) : undefined)
    ?? (isHttpUrl(snapshot.manifest) && new URL(snapshot.manifest).pathname.endsWith(MANIFEST_SUFFIX) ? besideManifest(snapshot.manifest) : undefined);
  if (!url) throw new UsageError(`--snapshot ${snapshot.manifest}: say where the image is with --image-url or --store`);
  return snapshotDeployImage(manifest, url);
}

/** The image's URL from its manifest's: the same path without `.manifest.json`, the same query. */
function besideManifest(manifestUrl: string): string {
  const url = new URL(manifestUrl);
  url.pathname = url.pathname.slice(0, -MANIFEST_SUFFIX.length);
  return url.toString();
}
