import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { pack } from 'tar-stream';

/** One file of a log archive. */
export interface ArchiveEntry {
  /** Path inside the archive, without a leading slash. */
  name: string;
  data: Buffer;
}

/**
 * A gzipped tar of the entries, built in memory as IPA's
 * `utils.gzip_and_b64encode` does (reference 4.2): the whole answer of
 * `log.collect_system_logs` is one JSON string, so there is nothing to stream
 * to. The callers bound the entries' sizes.
 */
export async function packTarGzip(entries: readonly ArchiveEntry[], mtime: Date = new Date()): Promise<Buffer> {
  const archive = pack();
  const chunks: Buffer[] = [];
  const collected = pipeline(archive, createGzip(), async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) chunks.push(chunk);
  });
  try {
    for (const entry of entries) {
      await new Promise<void>((resolve, reject) => {
        archive.entry({ name: entry.name, size: entry.data.length, mode: 0o644, mtime }, entry.data, (error) => (error ? reject(error) : resolve()));
      });
    }
    archive.finalize();
  } catch (error) {
    archive.destroy(error as Error);
  }
  await collected;
  return Buffer.concat(chunks);
}
