/**
 * GRUB as the image ships it, run inside the image's root (chroot), as IPA
 * does (9.9 step 3): Debian and Ubuntu call it grub-install, RHEL and SUSE
 * grub2-install; its configuration directory follows the same name.
 */
export type GrubFlavour = 'grub' | 'grub2';

export const CHROOT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export function grubInstallBiosArgv(root: string, flavour: GrubFlavour, disk: string): string[] {
  return ['chroot', root, `${flavour}-install`, '--target=i386-pc', disk];
}

/**
 * UEFI: the removable-media path (EFI/BOOT/BOOTX64.EFI) as IPA installs it,
 * and no NVRAM write from inside the chroot: efibootmgr does that afterwards
 * from the ramdisk, where efivarfs is.
 */
export function grubInstallUefiArgv(root: string, flavour: GrubFlavour, efiDirectory: string): string[] {
  return ['chroot', root, `${flavour}-install`, '--target=x86_64-efi', `--efi-directory=${efiDirectory}`, '--removable', '--no-nvram'];
}

export function grubMkconfigArgv(root: string, flavour: GrubFlavour): string[] {
  return ['chroot', root, `${flavour}-mkconfig`, '-o', `/boot/${flavour}/grub.cfg`];
}
