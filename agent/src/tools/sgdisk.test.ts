import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseSgdiskZap, sgdiskZapArgv } from './sgdisk.ts';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const output = (name: string) => fixture(`${name}.stdout.txt`) + fixture(`${name}.stderr.txt`);

describe('sgdisk', () => {
  it('zaps both GPT copies and the MBR', () => {
    expect(sgdiskZapArgv('/dev/loop0')).toEqual(['sgdisk', '--zap-all', '/dev/loop0']);
  });

  it('recognises a successful zap of a GPT disk', () => {
    expect(parseSgdiskZap(0, output('sgdisk-zap-gpt'))).toEqual({ destroyed: true, kernelKeepsOldTable: true, acceptable: true });
  });

  it('recognises a zap of a blank disk, which sgdisk also reports as destroyed', () => {
    expect(parseSgdiskZap(0, output('sgdisk-zap-blank'))).toMatchObject({ destroyed: true, acceptable: true });
  });

  it('accepts exit code 2 only as a hint to verify, and refuses other failures', () => {
    expect(parseSgdiskZap(2, 'Problem reading disk')).toEqual({ destroyed: false, kernelKeepsOldTable: false, acceptable: true });
    expect(parseSgdiskZap(4, 'Problem opening /dev/sdz for reading!')).toMatchObject({ acceptable: false });
  });
});
