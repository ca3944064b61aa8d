/**
 * The kernel command line and the GRUB menu of the virtual-media ISO. Pure.
 */

/** Always on the command line: the serial console (BMCs' serial-over-LAN, QEMU's -serial). */
export const BASE_KERNEL_PARAMETERS = ['console=tty0', 'console=ttyS0,115200n8'];

/**
 * The kernel command line: the console settings, then the user's --append
 * words (ipa-api-url=..., ipa-insecure=1, ...) in the order given. The last
 * console= is /dev/console, so the serial port gets /init's output.
 */
export function renderKernelAppend(userAppend: readonly string[]): string {
  const words = userAppend.flatMap((part) => part.split(/\s+/)).filter((word) => word !== '');
  for (const word of words) {
    if (/["\\$;`]/.test(word)) throw new Error(`kernel parameter ${JSON.stringify(word)}: quotes, backslashes, '$', ';' and '\`' are not allowed`);
  }
  return [...BASE_KERNEL_PARAMETERS, ...words].join(' ');
}

/** grub.cfg for grub-mkrescue (BIOS and UEFI share it): boots at once, on the serial port and the screen. */
export function renderGrubConfig(options: { kernelAppend: string; title?: string }): string {
  const title = options.title ?? 'Ingot provisioning ramdisk';
  return [
    'serial --unit=0 --speed=115200',
    'terminal_input console serial',
    'terminal_output console serial',
    'set timeout=1',
    'set default=0',
    '',
    `menuentry '${title.replaceAll("'", '')}' {`,
    `  linux /boot/vmlinuz ${options.kernelAppend}`,
    '  initrd /boot/initramfs.cpio.zst',
    '}',
    '',
  ].join('\n');
}
