import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createDeviceGuard } from '../system/device-guard.ts';
import { createRealSystem } from '../system/real-system.ts';
import { loadManagersFromDirectory } from './load-managers.ts';

const system = createRealSystem({ guard: createDeviceGuard({ mode: 'sandbox', disks: [] }) });
const made: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'ingot-managers-'));
  made.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('loadManagersFromDirectory', () => {
  it('loads every manager a directory\'s modules export, in file-name order', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'b-vendor.mjs'), `export default { name: 'vendor', version: '2', evaluateSupport: () => 3, steps: [] };`);
    writeFileSync(join(dir, 'a-rack.js'), `export const managers = () => [{ name: 'rack', version: '1', evaluateSupport: () => 2, steps: [] }];`);
    writeFileSync(join(dir, 'README.txt'), 'ignored');
    const managers = await loadManagersFromDirectory(dir, system);
    expect(managers.map((m) => m.name)).toEqual(['rack', 'vendor']);
  });

  it('names the file that does not export a manager', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'broken.mjs'), 'export default { name: 42 };');
    await expect(loadManagersFromDirectory(dir, system)).rejects.toThrow(/broken\.mjs does not export a hardware manager/);
  });

  it('says which directory it cannot read', async () => {
    await expect(loadManagersFromDirectory('/nonexistent/ingot', system)).rejects.toThrow(/cannot read the hardware manager directory \/nonexistent\/ingot/);
  });
});
