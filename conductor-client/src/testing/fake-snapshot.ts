/**
 * A fake agent's `snapshot.capture`: reports progress over a few polls, then
 * "uploads" nothing and returns a well-formed result for the target it was
 * given, so a conductor's capture and completion logic can be driven
 * without a disk. `fakeSnapshotResult` is that result alone.
 */
import { createHash } from 'node:crypto';
import type { SnapshotCaptureResult, SnapshotManifest, SnapshotTarget } from '@ingot/protocol';
import type { FakeCommandHandler } from './fake-agent-types.ts';

const MiB = 1024 * 1024;
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const md5 = (text: string) => createHash('md5').update(text).digest('hex');

export function fakeSnapshotManifest(overrides: Partial<SnapshotManifest> = {}): SnapshotManifest {
  return {
    format: 'ingot-snapshot/1', created_at: '2026-12-03T19:00:00.000Z', agent_version: 'ingot-fake-1.0', node_uuid: null,
    source: {
      device: '/dev/vda', size_bytes: 64 * MiB, logical_sector_size: 512, physical_sector_size: 512, serial: null, model: null,
      partition_table: { type: 'gpt', uuid: '5c2f4a11-7e0b-4d3b-9d6e-0e5a7c9b1f20' },
      partitions: [{ number: 1, start_bytes: MiB, size_bytes: 62 * MiB, uuid: null, type: null, label: 'root', captured: true }],
      captured: 'disk',
    },
    raw: { bytes: 64 * MiB, sha256: sha256('raw') },
    image: { format: 'zstd-seekable', bytes: 3 * MiB + 100, sha256: sha256('image'), level: 3, frame_size: 4 * MiB, frames: 16 },
    ...overrides,
  };
}

/** The result of a capture to `target`: the image's bytes split into its segments. */
export function fakeSnapshotResult(target: SnapshotTarget, manifest = fakeSnapshotManifest()): SnapshotCaptureResult {
  const segments = [];
  if (target.type !== 'http_put') {
    for (let index = 0, left = manifest.image.bytes; left > 0; index++, left -= target.segment_size) {
      const bytes = Math.min(left, target.segment_size);
      segments.push({ index, bytes, md5: md5(`segment ${index}`), sha256: sha256(`segment ${index}`), etag: md5(`segment ${index}`), attempts: 1 });
    }
  }
  return {
    manifest: { ...manifest, ...(target.type === 'http_put' ? {} : { segments: { size: target.segment_size, count: segments.length } }) },
    target: target.type, segments, manifest_stored: target.type === 'http_put' && Boolean(target.manifest_url), duration_ms: 42,
  };
}

/** A `snapshot.capture` handler: `polls` progress updates `stepMs` apart (bytes of raw disk read), then the result. */
export function fakeSnapshotCapture({ polls = 3, stepMs = 20 }: { polls?: number; stepMs?: number } = {}): FakeCommandHandler {
  return async (params, context) => {
    const manifest = fakeSnapshotManifest();
    for (let poll = 1; poll <= polls; poll++) {
      context.setProgress({ stage: 'capturing', done: Math.round((manifest.raw.bytes * poll) / (polls + 1)), total: manifest.raw.bytes, unit: 'bytes' });
      await new Promise((resolve) => setTimeout(resolve, stepMs));
    }
    return fakeSnapshotResult((params as { target: SnapshotTarget }).target, manifest);
  };
}
