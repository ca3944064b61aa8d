import { describe, expect, it } from 'vitest';
import { macAddresses, type InterfaceInfo } from './inventory.ts';

const nic = (name: string, mac: string): InterfaceInfo => ({
  name, mac_address: mac, ipv4_address: null, ipv6_address: null, has_carrier: true, lldp: null, vendor: null,
  product: null, client_id: null, biosdevname: null, speed_mbps: null, pci_address: null, driver: null,
});

describe('macAddresses', () => {
  it('returns the non-empty MACs lowercased, in interface order, once each', () => {
    const interfaces = [nic('eth0', '52:54:00:AA:BB:01'), nic('ib0', ''), nic('eth1', '52:54:00:aa:bb:02'), nic('bond0', '52:54:00:aa:bb:01')];
    expect(macAddresses({ interfaces })).toEqual(['52:54:00:aa:bb:01', '52:54:00:aa:bb:02']);
  });

  it('returns nothing for a machine without interfaces', () => {
    expect(macAddresses({ interfaces: [] })).toEqual([]);
  });
});
