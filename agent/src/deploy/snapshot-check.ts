import type { Logger } from 'pino';
import { IngotError, isIngotError, type SnapshotDeployInfo } from '@ingot/protocol';
import type { ImageExpectations, RangeRead } from '../image/pipeline/index.ts';
import { parseSeekTable, parseSeekTableFooter, SEEK_TABLE_FOOTER_BYTES, type SeekTable } from '../snapshot/seekable-zstd.ts';

/**
 * A snapshot deployed with its `ingot_snapshot` (SnapshotDeployInfo) is
 * checked against the object's own seek table before a byte is written: two
 * small Range requests read the table from the stream's end (the 9-byte
 * footer says how long it is). A server that does not serve ranges leaves
 * the check to the end of the stream, where the frames, the bytes and the
 * raw digest of what was written are compared in any case.
 */

const HINT = 'check that image_info.ingot_snapshot comes from this snapshot\'s manifest';
const before = (what: string) => new IngotError('INGOT_SNAPSHOT_MISMATCH', { details: `${what}; nothing was written: ${HINT}` });
const after = (what: string) => new IngotError('INGOT_SNAPSHOT_MISMATCH', { details: `${what}; the partial image was wiped: ${HINT}` });

/** What the table and the object's size say, against what the conductor declared. Pure. */
export function checkSnapshotTable(info: SnapshotDeployInfo, table: SeekTable, servedBytes: number): void {
  if (servedBytes !== info.image_bytes) throw before(`the object is ${servedBytes} bytes as served, ingot_snapshot.image_bytes says ${info.image_bytes}`);
  if (table.frameCount !== info.frames) throw before(`its seek table lists ${table.frameCount} frames, ingot_snapshot.frames says ${info.frames}`);
  if (table.decompressedBytes !== info.raw_bytes) throw before(`its seek table adds up to ${table.decompressedBytes} bytes of disk, ingot_snapshot.raw_bytes says ${info.raw_bytes}`);
}

export function checkSnapshotFits(info: SnapshotDeployInfo, diskBytes: number): void {
  if (info.raw_bytes > diskBytes) {
    throw new IngotError('INGOT_SNAPSHOT_MISMATCH', { details: `the snapshot holds ${info.raw_bytes} bytes of disk and the target only ${diskBytes}; nothing was written: deploy it onto a disk at least as large as the one captured` });
  }
}

/** What only the whole stream tells: checked after it was written. Pure. */
export function checkSnapshotWritten(info: SnapshotDeployInfo, written: Parameters<ImageExpectations['afterWrite']>[0]): void {
  if (written.servedBytes !== info.image_bytes) throw after(`the object was ${written.servedBytes} bytes as served, ingot_snapshot.image_bytes says ${info.image_bytes}`);
  if (written.frames !== undefined && written.frames !== info.frames) throw after(`the stream held ${written.frames} frames, ingot_snapshot.frames says ${info.frames}`);
  if (written.imageBytes !== info.raw_bytes) throw after(`the stream decompressed to ${written.imageBytes} bytes, ingot_snapshot.raw_bytes says ${info.raw_bytes}`);
  if (written.imageSha256.toLowerCase() !== info.raw_sha256.toLowerCase()) throw after(`the disk bytes written have sha256 ${written.imageSha256}, ingot_snapshot.raw_sha256 is ${info.raw_sha256}`);
}

/**
 * Reads the seek table by Range and checks it. Returns the table, or
 * undefined when the server does not serve ranges or the request failed for
 * a reason the download itself will meet and report (then the end check
 * decides). Throws INGOT_SNAPSHOT_MISMATCH when the object contradicts `info`.
 */
export async function readSnapshotTable(info: SnapshotDeployInfo, readRange: (start: number, length: number) => Promise<RangeRead>, log: Logger): Promise<SeekTable | undefined> {
  if (info.image_bytes < SEEK_TABLE_FOOTER_BYTES) throw before(`ingot_snapshot.image_bytes is ${info.image_bytes}, shorter than a seek table's footer`);
  try {
    const footerRead = await readRange(info.image_bytes - SEEK_TABLE_FOOTER_BYTES, SEEK_TABLE_FOOTER_BYTES);
    if (!footerRead) {
      log.info('the image server does not serve byte ranges: the snapshot is checked at the end of the stream');
      return undefined;
    }
    if (footerRead.total !== info.image_bytes || !footerRead.bytes) throw before(`the object is ${footerRead.total} bytes as served, ingot_snapshot.image_bytes says ${info.image_bytes}`);
    const footer = parseSeekTableFooter(footerRead.bytes);
    if (!footer) throw before('the object does not end in a zstd seek table: it is not a seekable zstd stream, as a snapshot is');
    if (footer.tableBytes > info.image_bytes) throw before(`its seek table claims ${footer.tableBytes} bytes, more than the ${info.image_bytes}-byte object`);
    const tableRead = await readRange(info.image_bytes - footer.tableBytes, footer.tableBytes);
    if (!tableRead?.bytes) return undefined;
    const table = parseSeekTable(tableRead.bytes, { streamBytes: tableRead.total });
    checkSnapshotTable(info, table, tableRead.total);
    log.info({ frames: table.frameCount, rawBytes: table.decompressedBytes }, 'the snapshot\'s seek table matches ingot_snapshot');
    return table;
  } catch (error) {
    if (isIngotError(error, 'INGOT_SNAPSHOT_MISMATCH')) throw error;
    if (isIngotError(error, 'INGOT_IMAGE_FORMAT')) throw before(`its seek table cannot be read: ${error.details}`);
    log.warn({ err: error }, 'reading the snapshot\'s seek table by Range failed: it is checked at the end of the stream instead');
    return undefined;
  }
}

/** The pipeline's hooks for a snapshot deploy. */
export function snapshotExpectations(info: SnapshotDeployInfo, log: Logger): ImageExpectations {
  return {
    async beforeWrite(readRange, target) {
      checkSnapshotFits(info, target.size);
      await readSnapshotTable(info, readRange, log);
    },
    checkFormat(format) {
      if (format !== 'zstd') throw before(`the object is ${format} by its magic bytes; a snapshot is a seekable zstd stream`);
    },
    afterWrite: (written) => checkSnapshotWritten(info, written),
  };
}
