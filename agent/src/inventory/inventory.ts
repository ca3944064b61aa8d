/**
 * The hardware inventory in IPA's wire shape (reference section 6): what
 * `list_hardware_info`, `poll.get_hardware_info` and inspection return, and
 * where lookup takes the node's MACs from. Field names are IPA's snake_case
 * because Ironic reads them as-is.
 */

/** One network interface (6.2 `interfaces[]`). */
export interface InterfaceInfo {
  name: string;
  mac_address: string;
  /** The first IPv4 address of the interface, or null. */
  ipv4_address: string | null;
  /** The first IPv6 address of the interface (a global one if there is any), or null. */
  ipv6_address: string | null;
  has_carrier: boolean;
  /** `[type, hex-string]` TLV pairs; IPA fills these only with the deprecated `ipa-collect-lldp`. */
  lldp: Array<[number, string]> | null;
  /** PCI vendor ID as sysfs shows it, e.g. `0x8086`. */
  vendor: string | null;
  /** PCI device ID as sysfs shows it, e.g. `0x1533`. */
  product: string | null;
  /** InfiniBand only. */
  client_id: string | null;
  biosdevname: string | null;
  speed_mbps: number | null;
  /** e.g. `0000:03:00.0`. */
  pci_address: string | null;
  driver: string | null;
}

/** 6.2 `cpu`. Per-core data is not serialized by IPA, so it is not modelled. */
export interface CpuInfo {
  model_name: string;
  /** MHz as lscpu prints it (`CPU max MHz`, else `CPU MHz`); null when lscpu shows neither (common in VMs). */
  frequency: string | null;
  count: number;
  architecture: string;
  flags: string[];
  socket_count: number;
}

/** 6.2 `memory`. */
export interface MemoryInfo {
  /** Bytes usable by the kernel (MemTotal). */
  total: number;
  /** Installed memory in MiB, or null when it cannot be found. */
  physical_mb: number | null;
}

/**
 * 6.2 `disks[]`. `logical_sectors` and `physical_sectors` are sector sizes in
 * bytes despite their names; IPA named them so and Ironic reads these keys.
 */
export interface DiskInfo {
  /** `/dev/<kname>`, or the path of a disk file outside the ramdisk. */
  name: string;
  model: string | null;
  size: number;
  rotational: boolean;
  wwn: string | null;
  serial: string | null;
  vendor: string | null;
  wwn_with_extension: string | null;
  wwn_vendor_extension: string | null;
  hctl: string | null;
  by_path: string | null;
  logical_sectors: number;
  physical_sectors: number;
  tran: string | null;
}

export interface FirmwareInfo {
  vendor: string | null;
  version: string | null;
  build_date: string | null;
}

/** 6.2 `system_vendor`. */
export interface SystemVendor {
  product_name: string | null;
  serial_number: string | null;
  manufacturer: string | null;
  firmware: FirmwareInfo;
}

/** 6.2 `boot`. */
export interface BootInfo {
  current_boot_mode: 'uefi' | 'bios';
  /** The `BOOTIF` kernel parameter as-is (e.g. `01-52-54-00-12-34-56`), or null. */
  pxe_interface: string | null;
}

/** 6.1 top-level keys. */
export interface Inventory {
  interfaces: InterfaceInfo[];
  cpu: CpuInfo;
  disks: DiskInfo[];
  memory: MemoryInfo;
  /** null without a BMC, `0.0.0.0` when a BMC has no address (6.2). */
  bmc_address: string | null;
  bmc_v6address: string | null;
  /** Present only when found (6.1). */
  bmc_mac?: string;
  system_vendor: SystemVendor;
  boot: BootInfo;
  hostname: string;
}

/** Where an inventory comes from: the real host inside the ramdisk, or a machine file outside it. */
export interface InventorySource {
  collect(): Promise<Inventory>;
  /**
   * Only what lookup sends, `macAddresses(collect())`, where it is much
   * cheaper than a whole inventory (seconds of spawns under emulation).
   */
  lookupMacs?(): Promise<string[]>;
}

/** The MACs lookup sends to the conductor: every non-empty one, lowercased, in interface order, without repeats. */
export function macAddresses(inventory: Pick<Inventory, 'interfaces'>): string[] {
  const macs = inventory.interfaces
    .map((iface) => (iface.mac_address ?? '').trim().toLowerCase())
    .filter((mac) => mac !== '');
  return [...new Set(macs)];
}
