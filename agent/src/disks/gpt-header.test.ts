import { describe, expect, it } from 'vitest';
import { checkGptBackup } from './gpt-header.ts';

/** LBA 1 of a GPT disk as sgdisk writes it: only the fields the check reads matter. */
function header(backupLba: bigint): Buffer {
  const sector = Buffer.alloc(512);
  sector.write('EFI PART', 0, 'latin1');
  sector.writeBigUInt64LE(1n, 24);
  sector.writeBigUInt64LE(backupLba, 32);
  return sector;
}

describe('checkGptBackup', () => {
  it('finds the backup of a 16 MiB image misplaced on a 128 MiB disk', () => {
    expect(checkGptBackup(header(32767n), 128 * 2 ** 20, 512)).toEqual({ present: true, backupLba: 32767n, lastLba: 262143n, backupMisplaced: true });
  });

  it('accepts a backup at the last sector, counting 4096-byte sectors', () => {
    expect(checkGptBackup(header(32767n), 128 * 2 ** 20, 4096).backupMisplaced).toBe(false);
  });

  it('leaves an MBR-only or blank disk alone', () => {
    expect(checkGptBackup(Buffer.alloc(512), 2 ** 30, 512)).toMatchObject({ present: false, backupMisplaced: false });
  });
});
