import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { isIngotError } from '@ingot/protocol';
import { parseRaidConfigText, readRaidConfigFile } from './raid-config-file.ts';

const dir = mkdtempSync(join(tmpdir(), 'ingot-raid-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const EXAMPLE = resolve(fileURLToPath(import.meta.url), '../../../../examples/raid-two-volumes.json');

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** The refusal's details, after checking it is the table's error for a bad file. */
function refusal(read: () => unknown): string {
  try {
    read();
  } catch (error) {
    expect(isIngotError(error, 'INGOT_CONFIG_INVALID')).toBe(true);
    return (error as { details: string }).details;
  }
  throw new Error('expected a refusal');
}

describe('readRaidConfigFile', () => {
  it('reads the README\'s example as it is, every field kept for the agent', () => {
    const { path, config } = readRaidConfigFile(EXAMPLE);
    expect(path).toBe(EXAMPLE);
    expect(config).toEqual(JSON.parse(readFileSync(EXAMPLE, 'utf8')));
    expect(config.logical_disks).toHaveLength(2);
  });

  it('leaves what each logical disk asks for to the agent: an unknown level or field passes through unchanged', () => {
    const text = '{"logical_disks": [{"raid_level": "7", "size_gb": "lots", "colour": "red"}], "extra": 1}';
    expect(parseRaidConfigText(text, 'r.json')).toEqual(JSON.parse(text));
  });

  it('reads a file that starts with a byte order mark', () => {
    expect(readRaidConfigFile(file('bom.json', '\uFEFF{"logical_disks": [{}]}')).config).toEqual({ logical_disks: [{}] });
  });

  it.each([
    ['a missing file', () => join(dir, 'missing.json'), /^cannot read .*missing\.json: no such file \(ENOENT\)$/],
    ['a directory', () => { const d = join(dir, 'sub'); mkdirSync(d, { recursive: true }); return d; }, /sub is not a regular file; give the path of a JSON file$/],
    ['a device', () => '/dev/null', /^\/dev\/null is not a regular file/],
    ['an empty file', () => file('empty.json', ''), /empty\.json is not JSON: Unexpected end of JSON input at line 1 column 1$/],
    ['a missing value', () => file('value.json', '{\n  "logical_disks": [\n    {"size_gb": }\n  ]\n}'), /value\.json is not JSON: Unexpected token '}' at line 3 column 17$/],
    ['a trailing comma', () => file('comma.json', '{"logical_disks": [{"size_gb": 1},]}'), /comma\.json is not JSON: .* at line 1 column 35$/],
    ['a comment', () => file('comment.json', '{"logical_disks": [{}] // two disks\n}'), /comment\.json is not JSON: .* at line 1 column 24$/],
    ['a list', () => file('list.json', '[{"size_gb": 1}]'), /list\.json: expected Ironic's target_raid_config, an object with a non-empty "logical_disks" list \(see examples\/raid-two-volumes\.json\), got a list of 1$/],
    ['no logical_disks', () => file('none.json', '{"logical_disk": []}'), /none\.json: expected .*, got "logical_disks": undefined$/],
    ['an empty logical_disks', () => file('zero.json', '{"logical_disks": []}'), /zero\.json: expected .*, got "logical_disks": a list of 0$/],
    ['logical_disks as an object', () => file('object.json', '{"logical_disks": {"size_gb": 1}}'), /object\.json: expected .*, got "logical_disks": an object$/],
  ])('refuses %s naming the file, and for bad JSON where it broke', (_what, path, expected) => {
    expect(refusal(() => readRaidConfigFile(path()))).toMatch(expected);
  });

  it('refuses a file far larger than any RAID configuration without reading it whole', () => {
    const path = file('huge.json', ' '.repeat(1024 * 1024 + 1));
    expect(refusal(() => readRaidConfigFile(path))).toMatch(/huge\.json is 1048577 bytes, more than a RAID configuration's 1048576/);
  });
});
