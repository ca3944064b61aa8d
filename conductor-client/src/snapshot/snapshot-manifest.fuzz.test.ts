import fc from 'fast-check';
import { expect, it } from 'vitest';
import { isIngotError } from '@ingot/protocol';
import { fuzz } from '../../../test/support/fuzz.ts';
import { parseSnapshotManifest } from './snapshot-store.ts';

/** A manifest read from a file or a URL is outside input: anything refused is refused with INGOT_SNAPSHOT_MISMATCH naming where it came from, never a TypeError. */
it('refuses any text that is not a manifest with INGOT_SNAPSHOT_MISMATCH naming its source, and never throws anything else', async () => {
  const hex64 = fc.stringMatching(/^[0-9a-f]{64}$/);
  const almost = fc.record({
    format: fc.constantFrom('ingot-snapshot/1', 'ingot-snapshot/2', '', 1),
    raw: fc.option(fc.record({ bytes: fc.oneof(fc.nat(), fc.double(), fc.string()), sha256: fc.oneof(hex64, fc.string()) }), { nil: undefined }),
    image: fc.option(fc.record({ bytes: fc.oneof(fc.nat(), fc.constant(-1)), sha256: fc.oneof(hex64, fc.constant(null)), frames: fc.oneof(fc.nat(), fc.constant('4')), frame_size: fc.nat() }), { nil: undefined }),
  }, { requiredKeys: [] });
  await fuzz('parseSnapshotManifest refuses with its own code', 500, fc.property(fc.oneof(fc.string(), fc.json(), almost.map((m) => JSON.stringify(m))), (text) => {
    try {
      const manifest = parseSnapshotManifest(text, 'the-source');
      expect(manifest.format).toBe('ingot-snapshot/1');
      expect(manifest.image.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(Number.isSafeInteger(manifest.raw.bytes)).toBe(true);
    } catch (error) {
      expect(isIngotError(error, 'INGOT_SNAPSHOT_MISMATCH'), String(error)).toBe(true);
      expect((error as Error).message).toContain('the-source');
    }
  }));
});
