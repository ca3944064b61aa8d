/**
 * A snapshot PUT whole to a plain HTTP server (nginx with WebDAV PUT): the
 * agent streams the image to `url` and the manifest to `manifest_url`; the
 * conductor only checks the manifest arrived and matches, or deletes both.
 * The URLs may carry a signature of the server's own (nginx secure_link):
 * they are never logged with their query.
 */
import { pino, type Logger } from 'pino';
import { IngotError, redactUrl, type SnapshotCaptureResult, type SnapshotManifest, type SnapshotTarget } from '@ingot/protocol';
import { manifestName, parseSnapshotManifest, type SnapshotStore } from './snapshot-store.ts';
import { storeError, storeRequest } from './store-http.ts';

export interface HttpPutStoreOptions {
  /** Where the image goes, e.g. `http://127.0.0.1:8080/snapshots/node-1.img.zst`. */
  url: string;
  /** Where the manifest goes; default the image's path + `.manifest.json` (same query). */
  manifestUrl?: string;
  log?: Logger;
}

/** `<path>.manifest.json`, keeping the URL's query. */
function besideUrl(url: string): string {
  const parsed = new URL(url);
  parsed.pathname = manifestName(parsed.pathname);
  return parsed.toString();
}

export function createHttpPutStore(options: HttpPutStoreOptions): SnapshotStore {
  if (!/^https?:\/\/[^/]/i.test(options.url)) throw new IngotError('INGOT_CONFIG_INVALID', { details: `the PUT URL must be http(s), got "${redactUrl(options.url)}"` });
  const log = (options.log ?? pino({ level: 'silent' })).child({ store: 'http_put' });
  const url = options.url;
  const manifestUrl = options.manifestUrl ?? besideUrl(url);

  async function readManifest(): Promise<SnapshotManifest> {
    const got = await storeRequest('GET the snapshot manifest', manifestUrl, { method: 'GET' }, [200]);
    return parseSnapshotManifest(got.text, redactUrl(manifestUrl));
  }

  return {
    type: 'http_put',
    location: redactUrl(url),
    prepare: async (): Promise<SnapshotTarget> => ({ type: 'http_put', url, manifest_url: manifestUrl }),

    async complete(result: SnapshotCaptureResult): Promise<SnapshotManifest> {
      if (result.target !== 'http_put') throw new IngotError('INGOT_SNAPSHOT_UPLOAD', { details: `the agent uploaded to a ${result.target} target, this store is http_put; nothing was completed` });
      if (!result.manifest_stored) {
        // An agent that did not store it (no manifest_url honoured): the conductor does.
        await storeRequest('PUT the snapshot manifest', manifestUrl, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: `${JSON.stringify(result.manifest, null, 2)}\n` }, [200, 201, 204]);
      }
      const stored = await readManifest();
      if (stored.image.sha256 !== result.manifest.image.sha256 || stored.raw.sha256 !== result.manifest.raw.sha256) {
        throw storeError('check the stored manifest', manifestUrl, `it names image sha256 ${stored.image.sha256}, the agent reported ${result.manifest.image.sha256}: another capture wrote it?`);
      }
      log.info({ url: redactUrl(url) }, 'snapshot stored; manifest checked');
      return result.manifest;
    },

    async abandon(): Promise<void> {
      for (const target of [manifestUrl, url]) {
        // 405: a server that allows no DELETE; said, not thrown (the capture already failed).
        const deleted = await storeRequest('DELETE what the capture PUT', target, { method: 'DELETE' }, [200, 202, 204, 404, 405]);
        if (deleted.status === 405) log.warn({ url: redactUrl(target) }, 'the server allows no DELETE: remove the partial upload by hand');
      }
    },

    readUrl: async () => url,
    readManifest,
  };
}
