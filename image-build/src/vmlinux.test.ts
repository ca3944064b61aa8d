import { describe, expect, it } from 'vitest';
import { hasPvhEntryNote, locateBzImagePayload } from './vmlinux.ts';

/** A bzImage's first bytes as the kernel's build writes them: only the fields the parser reads are set. */
function bzImageHead(fields: { setupSects: number; protocol: number; payloadOffset: number; payloadLength: number }, payload: number[]): Uint8Array {
  const setup = (fields.setupSects || 4) + 1;
  const head = new Uint8Array(setup * 512 + fields.payloadOffset + payload.length);
  const view = new DataView(head.buffer);
  view.setUint8(0x1f1, fields.setupSects);
  view.setUint32(0x202, 0x53726448, true); // "HdrS"
  view.setUint16(0x206, fields.protocol, true);
  view.setUint32(0x248, fields.payloadOffset, true);
  view.setUint32(0x24c, fields.payloadLength, true);
  head.set(payload, setup * 512 + fields.payloadOffset);
  return head;
}

const XZ = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];

describe('locateBzImagePayload', () => {
  it('finds the payload after the setup sectors, with the header values of Debian\'s vmlinuz-6.1.0-56-amd64', () => {
    expect(locateBzImagePayload(bzImageHead({ setupSects: 0x27, protocol: 0x20f, payloadOffset: 0x2cc, payloadLength: 0x7bf070 }, XZ)))
      .toEqual({ offset: 40 * 512 + 0x2cc, length: 0x7bf070, format: 'xz' });
  });

  it('reads setup_sects 0 as 4 and recognises gzip and unknown payloads', () => {
    expect(locateBzImagePayload(bzImageHead({ setupSects: 0, protocol: 0x20c, payloadOffset: 16, payloadLength: 10 }, [0x1f, 0x8b, 8])))
      .toEqual({ offset: 5 * 512 + 16, length: 10, format: 'gzip' });
    expect(locateBzImagePayload(bzImageHead({ setupSects: 1, protocol: 0x20c, payloadOffset: 0, payloadLength: 4 }, [1, 2, 3, 4])).format).toBe('unknown');
  });

  it('refuses what is not a bzImage with payload fields', () => {
    expect(() => locateBzImagePayload(new Uint8Array(0x100))).toThrow(/shorter than its setup header/);
    expect(() => locateBzImagePayload(new Uint8Array(0x400))).toThrow(/no "HdrS"/);
    expect(() => locateBzImagePayload(bzImageHead({ setupSects: 4, protocol: 0x207, payloadOffset: 0, payloadLength: 0 }, XZ))).toThrow(/2\.7 has no payload/);
  });
});

describe('hasPvhEntryNote', () => {
  // `readelf -n` of Debian's vmlinux 6.1.0-56-amd64 (binutils 2.40), trimmed around the notes that matter.
  const debian = [
    'Displaying notes found in: .notes',
    '  Owner                Data size \tDescription',
    '  Xen                  0x00000006\tUnknown note type: (0x00000006)',
    '   description data: 6c 69 6e 75 78 00 ',
    '  Xen                  0x00000008\tUnknown note type: (0x00000012)',
    '   description data: 50 08 00 01 00 00 00 00 ',
    '  GNU                  0x00000014\tNT_GNU_BUILD_ID (unique build ID bitstring)',
    '  Linux                0x00000010\tOPEN',
  ].join('\n');

  it('sees the PVH entry of a kernel built with CONFIG_PVH, and nothing in one without', () => {
    expect(hasPvhEntryNote(debian)).toBe(true);
    expect(hasPvhEntryNote(debian.replace('(0x00000012)', '(0x00000011)'))).toBe(false);
    expect(hasPvhEntryNote('  GNU                  0x00000012\tUnknown note type: (0x00000012)')).toBe(false);
  });
});
