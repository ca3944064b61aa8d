import type { System } from '../system/system.ts';
import type { InterfaceInfo } from './inventory.ts';
import { ipAddrArgv, parseIpAddr, type InterfaceAddresses } from './ip-addr.ts';

const netRoot = '/sys/class/net';

/** `KEY=value` lines of a sysfs `uevent` file. */
export function parseUevent(text: string): Map<string, string> {
  const entries = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) entries.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  return entries;
}

/**
 * The PCI address in a resolved sysfs device path: the last `dddd:bb:dd.f`
 * component, so a virtio NIC (`.../0000:00:03.0/virtio2`) reports the PCI
 * function it sits on.
 */
export function parsePciAddress(devicePath: string): string | null {
  const parts = devicePath.trim().split('/').filter((part) => /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/i.test(part));
  return parts.at(-1)?.toLowerCase() ?? null;
}

/** `speed` is Mb/s, -1 when unknown, and unreadable while the link is down. */
export function parseSpeed(text: string | null): number | null {
  const value = text === null ? NaN : Number(text.trim());
  return Number.isInteger(value) && value > 0 ? value : null;
}

/**
 * The physical interfaces of the host (6.2 `interfaces[]`): entries of
 * /sys/class/net with a `device` link, which leaves out lo, bridges, tunnels
 * and ifb. VLAN and bond interfaces, which IPA adds on request, are not listed.
 */
export async function readHostInterfaces(system: System): Promise<InterfaceInfo[]> {
  const names = (await system.listDir(netRoot)).sort();
  const addresses = await readAddresses(system);
  const interfaces: InterfaceInfo[] = [];
  for (const name of names) {
    const base = `${netRoot}/${name}`;
    if (!(await system.exists(`${base}/device`))) continue;
    interfaces.push(await readInterface(system, name, addresses.get(name)));
  }
  return interfaces;
}

/** The current MACs of the interfaces `readHostInterfaces` lists, in its order, from sysfs alone (no spawn). */
export async function readHostMacs(system: System): Promise<string[]> {
  const macs: string[] = [];
  for (const name of (await system.listDir(netRoot)).sort()) {
    const base = `${netRoot}/${name}`;
    if (!(await system.exists(`${base}/device`))) continue;
    const mac = ((await readOptional(system, `${base}/address`)) ?? '').trim().toLowerCase();
    if (mac !== '' && !macs.includes(mac)) macs.push(mac);
  }
  return macs;
}

async function readInterface(system: System, name: string, addresses: InterfaceAddresses | undefined): Promise<InterfaceInfo> {
  const base = `${netRoot}/${name}`;
  const uevent = parseUevent((await readOptional(system, `${base}/device/uevent`)) ?? '');
  return {
    name,
    // The current MAC; IPA prefers the permanent one from ethtool, which only differs after a deliberate change.
    mac_address: ((await readOptional(system, `${base}/address`)) ?? '').trim().toLowerCase(),
    ipv4_address: addresses?.ipv4 ?? null,
    ipv6_address: addresses?.ipv6 ?? null,
    // Reading `carrier` of a down interface fails with EINVAL: no carrier.
    has_carrier: (await readOptional(system, `${base}/carrier`))?.trim() === '1',
    lldp: null,
    vendor: (await readOptional(system, `${base}/device/vendor`))?.trim() || null,
    product: (await readOptional(system, `${base}/device/device`))?.trim() || null,
    client_id: null,
    biosdevname: null,
    speed_mbps: parseSpeed(await readOptional(system, `${base}/speed`)),
    pci_address: uevent.get('PCI_SLOT_NAME') ?? (await readPciAddress(system, `${base}/device`)),
    driver: uevent.get('DRIVER') || null,
  };
}

/** Addresses are optional facts: without iproute2 the interfaces are still listed. */
async function readAddresses(system: System): Promise<Map<string, InterfaceAddresses>> {
  try {
    const result = await system.run(ipAddrArgv);
    return parseIpAddr(result.stdout);
  } catch {
    return new Map();
  }
}

async function readPciAddress(system: System, devicePath: string): Promise<string | null> {
  try {
    const result = await system.run(['readlink', '-f', devicePath], { allowFailure: true });
    return result.exitCode === 0 ? parsePciAddress(result.stdout) : null;
  } catch {
    return null;
  }
}

export async function readOptional(system: System, path: string): Promise<string | null> {
  try {
    return await system.readText(path);
  } catch {
    return null;
  }
}
