import { describe, expect, it } from 'vitest';
import { IngotError } from '@ingot/protocol';
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

  it('refuses an unknown flag or a flag without its value as INGOT_CONFIG_INVALID naming it, not node\'s TypeError (fuzz finding)', () => {
    for (const argv of [['--no-insecure'], ['--listen-port']]) {
      expect(() => parseFlags(argv)).toThrow(IngotError);
      expect(() => parseFlags(argv)).toThrow(new RegExp(argv[0]!));
    }
  });

  it('refuses a boolean for a setting that is not one, and an empty repetition, by the flag\'s name (fuzz finding)', () => {
    expect(() => resolveConfig({ flags: { apiUrl: false } })).toThrow(/flag --api-url takes a list, not the boolean false/);
    expect(() => resolveConfig({ flags: { enableAutoTls: [] } })).toThrow(/flag --enable-auto-tls has no value/);
  });

  it('reads whole numbers as digits only and ports up to 65535 (fuzz finding: 65536 failed later in listen)', () => {
    for (const bad of ['', '0x10', '1e3', '-1', '1.5', '9007199254740993']) {
      expect(() => resolveConfig({ kernel: { 'ipa-lookup-timeout': bad } })).toThrow(/kernel parameter ipa-lookup-timeout must be a whole number/);
    }
    expect(() => resolveConfig({ kernel: { 'ipa-listen-port': '65536' } })).toThrow(/ipa-listen-port must be at most 65535, got 65536/);
    expect(() => resolveConfig({ flags: { advertisePort: '70000' } })).toThrow(/--advertise-port must be at most 65535/);
    expect(resolveConfig({ flags: { listenPort: '0' } }).listenPort).toBe(0);
  });

  it('keeps a kernel parameter named __proto__ as a parameter (fuzz finding: the prototype setter swallowed it)', () => {
    const params = parseKernelCmdline('__proto__=x constructor=1 ipa-debug=1');
    expect(Object.keys(params)).toEqual(['__proto__', 'constructor', 'ipa-debug']);
    expect(params.__proto__).toBe('x');
    expect(resolveConfig({ kernel: params }).debug).toBe(true);
  });
});
