import { describe, expect, it } from 'vitest';
import { renderGrubConfig, renderKernelAppend } from './grub.ts';

describe('renderKernelAppend', () => {
  it('puts the consoles first, with the serial port last so that it is /dev/console, then the user words in order', () => {
    expect(renderKernelAppend(['ipa-api-url=http://10.0.0.1:6385  ipa-insecure=1', 'ipa-debug=1'])).toBe(
      'console=tty0 console=ttyS0,115200n8 ipa-api-url=http://10.0.0.1:6385 ipa-insecure=1 ipa-debug=1',
    );
  });

  it('refuses quotes and shell characters, which GRUB and the kernel would read differently', () => {
    expect(() => renderKernelAppend(['ipa-api-url="http://x"'])).toThrow(/not allowed/);
    expect(() => renderKernelAppend(['a=$(reboot)'])).toThrow(/not allowed/);
  });
});

describe('renderGrubConfig', () => {
  it('boots the kernel with the command line and the initramfs, on the serial port and the screen, after one second', () => {
    const config = renderGrubConfig({ kernelAppend: 'console=ttyS0 ipa-api-url=http://h:6385' });
    expect(config).toContain('  linux /boot/vmlinuz console=ttyS0 ipa-api-url=http://h:6385\n');
    expect(config).toContain('  initrd /boot/initramfs.cpio.zst\n');
    expect(config).toContain('terminal_output console serial');
    expect(config).toContain('set timeout=1');
  });
});
