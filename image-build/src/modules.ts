/**
 * The kernel modules the ramdisk ships, as data. /init loads the `early`
 * groups in this order with one `modprobe -a` (one exec: dozens of separate
 * insmods cost ~3 s under TCG), then coldplugs through modalias, which loads
 * the `coldplug` groups only where their hardware exists (loading every NIC
 * and HBA driver blindly cost ~1.5 s of boot under TCG; ice alone 0.5 s).
 * The `late` groups (not needed to find disks, network or the configuration
 * device) load with a second `modprobe -a` in the background while the
 * network comes up and node starts (md's raid6 benchmark alone takes 0.3 s). The build computes each group's closure (dependencies AND softdeps,
 * which busybox modprobe ignores) on the build host with `modprobe --show-depends`.
 *
 * Debian's kernel builds in: devtmpfs, af_packet (udhcpc), unix sockets, the
 * 8250 serial console, the EFI stub, kexec, the md core and DMI sysfs; so none
 * of those appear here.
 */
export interface ModuleGroup {
  name: string;
  /** Why the ramdisk needs these. */
  why: string;
  /**
   * `early`: loaded by /init before the network and the configuration device;
   * `late`: loaded by /init in the background while the agent starts;
   * `coldplug`: shipped, loaded when a device's modalias asks for it.
   */
  load: 'early' | 'late' | 'coldplug';
  modules: readonly string[];
}

export const MODULE_GROUPS: readonly ModuleGroup[] = [
  {
    name: 'virtio',
    load: 'early',
    why: 'Disks, network and entropy of virtual machines (QEMU/KVM and clouds); the e2e test boots on these',
    modules: ['virtio_pci', 'virtio_blk', 'virtio_scsi', 'virtio_net', 'virtio_rng'],
  },
  {
    name: 'nvme',
    load: 'early',
    why: 'NVMe SSDs, the usual boot and data disks of current servers',
    modules: ['nvme'],
  },
  {
    name: 'ata-scsi',
    load: 'early',
    why: 'SATA disks (AHCI; ata_piix for the IDE CD-ROM of QEMU\'s pc machine), SCSI disks and CD-ROMs (sd_mod, sr_mod)',
    modules: ['ahci', 'ata_piix', 'sd_mod', 'sr_mod'],
  },
  {
    name: 'hba',
    load: 'coldplug',
    why: 'Common SAS/RAID host bus adapters of rack servers (Broadcom/LSI, Microchip)',
    modules: ['mpt3sas', 'megaraid_sas', 'smartpqi'],
  },
  {
    name: 'md-dm',
    load: 'late',
    why: 'Software RAID the agent assembles, inspects and erases (md RAID 0/1/10/4/5/6), device mapper and dm-crypt for encrypted volumes met while cleaning',
    modules: ['md_mod', 'raid0', 'raid1', 'raid10', 'raid456', 'dm_mod', 'dm_crypt'],
  },
  {
    name: 'loop',
    load: 'late',
    why: 'Loop devices, for images and for tests',
    modules: ['loop'],
  },
  {
    name: 'filesystems',
    load: 'early',
    why: 'ext4 (config and image partitions), vfat (EFI system partitions, vfat config drives), iso9660 (config-drive ISOs). nls_ascii is required: Debian sets CONFIG_FAT_DEFAULT_IOCHARSET="ascii" and vfat mounts fail with EINVAL without it',
    modules: ['ext4', 'vfat', 'nls_cp437', 'nls_ascii', 'nls_iso8859_1', 'nls_utf8', 'iso9660'],
  },
  {
    name: 'usb-media',
    load: 'early',
    why: 'BMC virtual media appears as a USB CD-ROM or stick; there is no udev to load these when it enumerates late, so they are loaded up front',
    modules: ['xhci_pci', 'ehci_pci', 'usb_storage', 'uas'],
  },
  {
    name: 'efi',
    load: 'late',
    why: 'efivarfs, to read and write UEFI boot entries',
    modules: ['efivarfs'],
  },
  {
    name: 'nics',
    load: 'coldplug',
    why: 'Common server NICs (Intel 1/10/40/100G, Mellanox/NVIDIA, Broadcom, Realtek), so that DHCP or the static config finds its link before coldplug ends',
    modules: ['igb', 'ixgbe', 'i40e', 'ice', 'mlx5_core', 'bnxt_en', 'tg3', 'e1000e', 'r8169'],
  },
];

export interface ModuleSelection {
  /** Everything shipped: the closure of these is copied into the image. */
  ship: string[];
  /** Loaded by /init before the network, in this order (their closure, softdeps first). */
  early: string[];
  /** Loaded by /init in the background while the agent starts. */
  late: string[];
}

/** The groups above plus the user's --extra-module names, which are shipped AND loaded early. */
export function selectModules(extra: readonly string[] = [], groups: readonly ModuleGroup[] = MODULE_GROUPS): ModuleSelection {
  const ship = groups.flatMap((group) => group.modules);
  const of = (load: ModuleGroup['load']) => groups.filter((group) => group.load === load).flatMap((group) => group.modules);
  const early = of('early');
  for (const name of extra) {
    if (!ship.includes(name)) ship.push(name);
    if (!early.includes(name)) early.push(name);
  }
  return { ship, early, late: of('late').filter((name) => !early.includes(name)) };
}
