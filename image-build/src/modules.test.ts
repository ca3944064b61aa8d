import { describe, expect, it } from 'vitest';
import { MODULE_GROUPS, selectModules } from './modules.ts';

describe('selectModules', () => {
  it('ships every group but loads NIC and HBA drivers only through coldplug', () => {
    const selection = selectModules();
    expect(selection.ship).toContain('ice');
    expect(selection.early).not.toContain('ice');
    expect(selection.late).not.toContain('ice');
    expect(selection.early).toContain('virtio_net');
    expect(selection.late).toContain('raid456');
  });

  it('ships and loads early the extra modules a user adds, once each', () => {
    const selection = selectModules(['bonding', 'bonding', 'ext4']);
    expect(selection.ship.filter((name) => name === 'bonding')).toHaveLength(1);
    expect(selection.early).toContain('bonding');
    expect(selection.ship.filter((name) => name === 'ext4')).toHaveLength(1);
  });

  it('loads vfat with the code pages its mounts need (cp437, and ascii as Debian\'s default iocharset) before the agent starts, so install_bootloader can mount an ESP', () => {
    expect(selectModules().early).toEqual(expect.arrayContaining(['vfat', 'nls_cp437', 'nls_ascii']));
  });

  it('explains every group', () => {
    for (const group of MODULE_GROUPS) expect(group.why.length).toBeGreaterThan(20);
  });
});
