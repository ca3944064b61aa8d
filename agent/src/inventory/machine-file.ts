import { isIPv4, isIPv6 } from 'node:net';
import { IngotError } from '@ingot/protocol';
import type { BootInfo, CpuInfo, Inventory, InterfaceInfo, MemoryInfo, SystemVendor } from './inventory.ts';

/** Everything of an inventory a machine file describes; disks come from the block devices the agent was given. */
export type MachineDescription = Omit<Inventory, 'disks'>;

type Json = Record<string, unknown>;

const MiB = 1024 * 1024;
const macPattern = /^[0-9a-f]{2}([:-])[0-9a-f]{2}(\1[0-9a-f]{2}){4}$/i;

/** Defaults describe a small, plain UEFI machine, so a file may name only its NICs. */
const defaultCpu: CpuInfo = { model_name: 'Ingot simulated CPU', frequency: null, count: 1, architecture: 'x86_64', flags: [], socket_count: 1 };
const defaultMemoryBytes = 4096 * MiB;

const topKeys = ['interfaces', 'cpu', 'memory', 'system_vendor', 'boot', 'hostname', 'bmc_address', 'bmc_v6address', 'bmc_mac'];
const interfaceKeys = ['name', 'mac_address', 'ipv4_address', 'ipv6_address', 'has_carrier', 'lldp', 'vendor', 'product', 'client_id', 'biosdevname', 'speed_mbps', 'pci_address', 'driver'];

/**
 * Validates the JSON text of a machine file and fills every missing field
 * with a default. Throws INGOT_CONFIG_INVALID naming the file and the field.
 */
export function parseMachineFile(text: string, path: string, defaultHostname: string): MachineDescription {
  const fail = (field: string, problem: string): never => {
    throw new IngotError('INGOT_CONFIG_INVALID', { details: `machine file ${path}: ${field ? `${field}: ` : ''}${problem}` });
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new IngotError('INGOT_CONFIG_INVALID', { details: `machine file ${path} is not JSON: ${(error as Error).message}`, cause: error });
  }
  const root = object(parsed, '', fail);
  if ('disks' in root) fail('disks', 'disks are not described in the machine file; the agent reports the disks it was given');
  onlyKeys(root, topKeys, '', fail);

  const list = root.interfaces;
  if (list === undefined) fail('interfaces', 'missing; describe at least one NIC so lookup has a MAC to send');
  if (!Array.isArray(list) || list.length === 0) fail('interfaces', 'must be a non-empty array');
  const interfaces = (list as unknown[]).map((entry, i) => parseInterface(object(entry, `interfaces[${i}]`, fail), `interfaces[${i}]`, fail));

  const cpu = object(root.cpu ?? {}, 'cpu', fail);
  const memory = object(root.memory ?? {}, 'memory', fail);
  const vendor = object(root.system_vendor ?? {}, 'system_vendor', fail);
  const firmware = object(vendor.firmware ?? {}, 'system_vendor.firmware', fail);
  const boot = object(root.boot ?? {}, 'boot', fail);
  const field = (o: Json, key: string, at: string) => new Field(o[key], at ? `${at}.${key}` : key, fail);

  const frequency = cpu.frequency;
  const parsedCpu: CpuInfo = {
    model_name: field(cpu, 'model_name', 'cpu').string() ?? defaultCpu.model_name,
    frequency: typeof frequency === 'number' ? String(frequency) : field(cpu, 'frequency', 'cpu').string(),
    count: field(cpu, 'count', 'cpu').positiveInt() ?? defaultCpu.count,
    architecture: field(cpu, 'architecture', 'cpu').string() ?? defaultCpu.architecture,
    flags: field(cpu, 'flags', 'cpu').stringArray() ?? [],
    socket_count: field(cpu, 'socket_count', 'cpu').positiveInt() ?? defaultCpu.socket_count,
  };
  const total = field(memory, 'total', 'memory').positiveInt() ?? defaultMemoryBytes;
  const parsedMemory: MemoryInfo = {
    total,
    physical_mb: memory.physical_mb === null ? null : field(memory, 'physical_mb', 'memory').positiveInt() ?? Math.round(total / MiB),
  };
  const parsedVendor: SystemVendor = {
    product_name: field(vendor, 'product_name', 'system_vendor').string(),
    serial_number: field(vendor, 'serial_number', 'system_vendor').string(),
    manufacturer: field(vendor, 'manufacturer', 'system_vendor').string(),
    firmware: {
      vendor: field(firmware, 'vendor', 'system_vendor.firmware').string(),
      version: field(firmware, 'version', 'system_vendor.firmware').string(),
      build_date: field(firmware, 'build_date', 'system_vendor.firmware').string(),
    },
  };
  const mode = field(boot, 'current_boot_mode', 'boot').string() ?? 'uefi';
  if (mode !== 'uefi' && mode !== 'bios') fail('boot.current_boot_mode', `"${mode}" is neither "uefi" nor "bios"`);
  const parsedBoot: BootInfo = { current_boot_mode: mode as BootInfo['current_boot_mode'], pxe_interface: field(boot, 'pxe_interface', 'boot').string() };

  const description: MachineDescription = {
    interfaces,
    cpu: parsedCpu,
    memory: parsedMemory,
    bmc_address: field(root, 'bmc_address', '').ip(isIPv4, 'IPv4'),
    bmc_v6address: field(root, 'bmc_v6address', '').ip(isIPv6, 'IPv6'),
    system_vendor: parsedVendor,
    boot: parsedBoot,
    hostname: field(root, 'hostname', '').string() ?? defaultHostname,
  };
  const bmcMac = field(root, 'bmc_mac', '').mac();
  if (bmcMac !== null) description.bmc_mac = bmcMac;
  return description;
}

function parseInterface(entry: Json, at: string, fail: (field: string, problem: string) => never): InterfaceInfo {
  onlyKeys(entry, interfaceKeys, at, fail);
  const field = (key: string) => new Field(entry[key], `${at}.${key}`, fail);
  const name = field('name').string();
  if (!name) fail(`${at}.name`, 'missing; every interface needs a name such as "eth0"');
  const mac = field('mac_address').mac();
  if (mac === null) fail(`${at}.mac_address`, 'missing; every interface needs a MAC address such as "52:54:00:12:34:56"');
  return {
    name: name as string,
    mac_address: mac as string,
    ipv4_address: field('ipv4_address').ip(isIPv4, 'IPv4'),
    ipv6_address: field('ipv6_address').ip(isIPv6, 'IPv6'),
    has_carrier: field('has_carrier').boolean() ?? true,
    lldp: field('lldp').lldp(),
    vendor: field('vendor').string(),
    product: field('product').string(),
    client_id: field('client_id').string(),
    biosdevname: field('biosdevname').string(),
    speed_mbps: field('speed_mbps').positiveInt(),
    pci_address: field('pci_address').string(),
    driver: field('driver').string(),
  };
}

function object(value: unknown, at: string, fail: (field: string, problem: string) => never): Json {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(at, 'must be a JSON object');
  return value as Json;
}

function onlyKeys(value: Json, known: readonly string[], at: string, fail: (field: string, problem: string) => never): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) fail(at ? `${at}.${key}` : key, `unknown field (known: ${known.join(', ')})`);
  }
}

/** One optional field: each accessor returns null when absent or null, and fails on a wrong type. */
class Field {
  constructor(
    private readonly value: unknown,
    private readonly at: string,
    private readonly fail: (field: string, problem: string) => never,
  ) {}

  private absent(): boolean {
    return this.value === undefined || this.value === null;
  }

  string(): string | null {
    if (this.absent()) return null;
    if (typeof this.value !== 'string') this.fail(this.at, `must be a string, not ${JSON.stringify(this.value)}`);
    return this.value as string;
  }

  boolean(): boolean | null {
    if (this.absent()) return null;
    if (typeof this.value !== 'boolean') this.fail(this.at, `must be true or false, not ${JSON.stringify(this.value)}`);
    return this.value as boolean;
  }

  positiveInt(): number | null {
    if (this.absent()) return null;
    if (!Number.isSafeInteger(this.value) || (this.value as number) <= 0) this.fail(this.at, `must be a positive integer, not ${JSON.stringify(this.value)}`);
    return this.value as number;
  }

  stringArray(): string[] | null {
    if (this.absent()) return null;
    if (!Array.isArray(this.value) || !this.value.every((item) => typeof item === 'string')) this.fail(this.at, 'must be an array of strings');
    return [...(this.value as string[])];
  }

  mac(): string | null {
    const text = this.string();
    if (text === null) return null;
    if (!macPattern.test(text)) this.fail(this.at, `"${text}" is not a MAC address such as "52:54:00:12:34:56"`);
    return text.toLowerCase().replaceAll('-', ':');
  }

  ip(valid: (text: string) => boolean, family: string): string | null {
    const text = this.string();
    if (text !== null && !valid(text)) this.fail(this.at, `"${text}" is not an ${family} address`);
    return text;
  }

  lldp(): Array<[number, string]> | null {
    if (this.absent()) return null;
    const ok = Array.isArray(this.value) && this.value.every((pair) =>
      Array.isArray(pair) && pair.length === 2 && Number.isInteger(pair[0]) && typeof pair[1] === 'string');
    if (!ok) this.fail(this.at, 'must be a list of [type, hex-string] pairs');
    return (this.value as Array<[number, string]>).map(([type, data]) => [type, data]);
  }
}
