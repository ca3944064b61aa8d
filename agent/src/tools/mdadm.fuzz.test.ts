import { readdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { fuzz } from '../../../test/support/fuzz.ts';
import { parseMdadmDetail, parseMdadmDetailScan, parseMdadmExamine, parseMdstat } from './mdadm.ts';

/** Every captured output of one kind (fixtures/mdadm/, real mdadm 4.2 and kernel 6.1). */
const dir = new URL('./fixtures/mdadm/', import.meta.url);
const fixtures = (prefix: string) => readdirSync(dir).filter((f) => f.startsWith(prefix) && !f.endsWith('.stderr.txt')).map((f) => readFileSync(new URL(f, dir), 'utf8'));
const mdstats = fixtures('mdstat-');
const exports = [...fixtures('mdadm-detail-export-'), ...fixtures('mdadm-examine-')];
const scans = [...fixtures('mdadm-detail-scan'), ...fixtures('mdadm-examine-scan')];

/** Pieces that look like what the parsers key on, so mutations reach their branches. */
const token = fc.oneof(
  fc.string({ unit: 'grapheme-ascii', maxLength: 8 }),
  fc.constantFrom('[', ']', '(F)', '(S)', '(X)', '%', '=', '/', ' ', '\t', '\n', '      ', 'md0 : ', 'active ', 'inactive ', '(auto-read-only) ',
    'resync', 'recovery', 'check', ' = ', '=DELAYED', '=PENDING', '999.9%', '-1', 'finish=', 'min', 'speed=', 'K/sec', ' blocks', 'super ',
    '[2/1]', 'MD_', 'MD_LEVEL=', 'MD_UUID=', 'MD_DEVICE_dev_x_ROLE=', 'ARRAY ', 'UUID=', 'name=', 'Magic : ', '9'.repeat(20)),
);

/** A captured text under 0 to 5 edits: a line dropped or doubled, a token put in or written over, a cut. */
function mutated(texts: readonly string[]): fc.Arbitrary<string> {
  const edit = fc.tuple(fc.constantFrom('drop', 'double', 'insert', 'overwrite', 'cut'), fc.nat(), fc.nat(), token);
  return fc.tuple(fc.constantFrom(...texts), fc.array(edit, { maxLength: 5 })).map(([text, edits]) => {
    let out = text;
    for (const [kind, a, b, piece] of edits) {
      const lines = out.split('\n');
      const line = a % Math.max(lines.length, 1);
      const at = b % (out.length + 1);
      if (kind === 'drop') lines.splice(line, 1);
      if (kind === 'double') lines.splice(line, 0, lines[line] ?? '');
      if (kind === 'drop' || kind === 'double') out = lines.join('\n');
      else if (kind === 'insert') out = out.slice(0, at) + piece + out.slice(at);
      else if (kind === 'overwrite') out = out.slice(0, at) + piece + out.slice(at + piece.length);
      else out = out.slice(0, at);
    }
    return out;
  });
}

const count = (value: number | null) => value === null || (Number.isSafeInteger(value) && value >= 0);

/** What `parse` returned, or undefined once it threw an Error whose message matches `refusal` (anything else fails the property). */
function parsedOrRefused<T>(parse: () => T, refusal: RegExp): T | undefined {
  try {
    return parse();
  } catch (error) {
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(refusal);
    return undefined;
  }
}

it('never invents an array or a progress figure from mutated /proc/mdstat, and fails only with its own Error', async () => {
  await fuzz('parseMdstat on mutated captured /proc/mdstat', 160, fc.property(mutated(mdstats), (text) => {
    const arrays = parsedOrRefused(() => parseMdstat(text), /^unexpected \/proc\/mdstat array line \(.+\): md/);
    if (!arrays) return;
    const headers = text.split('\n').filter((line) => /^md(\d+|_[\w.-]+) : /.test(line));
    expect(arrays).toHaveLength(headers.length);
    arrays.forEach((array, i) => {
      expect(headers[i]?.startsWith(`${array.name} : `)).toBe(true);
      const listed = [...(headers[i] ?? '').matchAll(/\s(\S+)\[(\d+)\]/g)].map((m) => [m[1], Number(m[2])]);
      expect(array.members.map((m) => [m.name, m.role])).toEqual(listed);
      expect(array.level === null).toBe(!array.active);
      for (const value of [array.sizeKiB, array.raidDevices, array.inSyncDevices]) expect(count(value)).toBe(true);
      const sync = array.sync;
      if (sync) {
        if (sync.percent !== null) expect(sync.percent >= 0 && sync.percent <= 100).toBe(true);
        for (const value of [sync.doneKiB, sync.totalKiB, sync.speedKiBPerSecond]) expect(count(value)).toBe(true);
        if (sync.finishMinutes !== null) expect(Number.isFinite(sync.finishMinutes) && sync.finishMinutes >= 0).toBe(true);
        if (sync.state !== 'running') expect([sync.percent, sync.doneKiB, sync.totalKiB]).toEqual([null, null, null]);
      }
    });
  }));
});

it('reads mutated --detail/--examine output into whole records or a clean Error, never half a record', async () => {
  await fuzz('parseMdadmDetail and parseMdadmExamine on mutated captured output', 100, fc.property(mutated(exports), fc.constantFrom(0, 1, 2), (text, exitCode) => {
    const parsers: Array<() => { raidDevices: number; uuid: string } | null> = [
      () => parseMdadmDetail(text),
      () => parseMdadmExamine(exitCode, text, exitCode === 1 ? 'mdadm: No md superblock detected on /dev/x.' : ''),
    ];
    for (const parse of parsers) {
      const result = parsedOrRefused(parse, /^mdadm /);
      if (!result) continue;
      expect(Number.isSafeInteger(result.raidDevices) && result.raidDevices >= 0).toBe(true);
      expect(result.uuid.trim()).not.toBe('');
      expect(text).toContain(result.uuid);
    }
  }));
});

it('takes every ARRAY from mutated --scan output with its UUID, or refuses the line', async () => {
  await fuzz('parseMdadmDetailScan on mutated captured output', 40, fc.property(mutated(scans), (text) => {
    const arrays = parsedOrRefused(() => parseMdadmDetailScan(text), /^mdadm --scan line without a device or UUID: /);
    if (!arrays) return;
    expect(arrays).toHaveLength(text.split('\n').filter((line) => /^(?:INACTIVE-)?ARRAY\s/.test(line)).length);
    for (const array of arrays) {
      expect(array.uuid).not.toBe('');
      expect(text).toContain(`UUID=${array.uuid}`);
      expect(array.line).toMatch(array.active ? /^ARRAY\s/ : /^INACTIVE-ARRAY\s/);
    }
  }));
});
