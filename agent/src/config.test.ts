import { describe, expect, it } from 'vitest';
import { parseFlags } from './cli-flags.ts';
import { parseKernelCmdline, resolveConfig } from './config.ts';

describe('agent configuration', () => {
  it('reads IPA parameters from a kernel command line, quoted values and bare words included', () => {
    const params = parseKernelCmdline('BOOT_IMAGE=/vmlinuz ipa-api-url=http://10.0.0.1:6385,https://b:6385 ipa-insecure=1 quiet ipa-global-request-id="req-1"\n');
    expect(params).toMatchObject({ 'ipa-api-url': 'http://10.0.0.1:6385,https://b:6385', 'ipa-insecure': '1', quiet: '1', 'ipa-global-request-id': 'req-1' });
    const config = resolveConfig({ kernel: params });
    expect(config.apiUrl).toEqual(['http://10.0.0.1:6385', 'https://b:6385']);
    expect(config.insecure).toBe(true);
    expect(config.listenPort).toBe(9999);
    expect(config.lookupTimeout).toBe(600);
  });

  it('lets flags override the kernel command line', () => {
    const config = resolveConfig({ kernel: { 'ipa-listen-port': '9999' }, flags: parseFlags(['--listen-port', '8000', '--insecure', '--disk', '/tmp/a.img', '--disk', '/tmp/b.img']) });
    expect(config.listenPort).toBe(8000);
    expect(config.insecure).toBe(true);
    expect(config.disk).toEqual(['/tmp/a.img', '/tmp/b.img']);
  });

  it('names the parameter and the bad value when a setting is invalid', () => {
    expect(() => resolveConfig({ kernel: { 'ipa-lookup-timeout': 'soon' } })).toThrow(/kernel parameter ipa-lookup-timeout must be a whole number, got "soon"/);
    expect(() => resolveConfig({ flags: { apiUrl: ['ftp://x'] } })).toThrow(/ipa-api-url entry "ftp:\/\/x" is not an http\(s\) URL/);
    expect(() => resolveConfig({ flags: { insecure: 'maybe' } })).toThrow(/--insecure must be a boolean/);
  });

  it('refuses an unknown flag', () => {
    expect(() => parseFlags(['--disks', 'x'])).toThrow(/--disks/);
  });
});
