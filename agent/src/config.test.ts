import { describe, expect, it } from 'vitest';
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
    const config = resolveConfig({ kernel: { 'ipa-listen-port': '9999', 'ipa-insecure': '0' }, flags: { listenPort: '8000', insecure: '1', disk: ['/tmp/a.img', '/tmp/b.img'] } });
    expect(config.listenPort).toBe(8000);
    expect(config.insecure).toBe(true);
    expect(config.disk).toEqual(['/tmp/a.img', '/tmp/b.img']);
  });

  it('names the parameter and the bad value when a setting is invalid', () => {
    expect(() => resolveConfig({ kernel: { 'ipa-lookup-timeout': 'soon' } })).toThrow(/kernel parameter ipa-lookup-timeout must be a whole number \(0 or more\), got "soon"/);
    expect(() => resolveConfig({ flags: { apiUrl: ['ftp://x'] } })).toThrow(/flag --api-url must be http\(s\) URLs, comma-separated, got "ftp:\/\/x"/);
    expect(() => resolveConfig({ kernel: { 'ipa-api-url': 'http://a:6385,ftp://x' } })).toThrow(/kernel parameter ipa-api-url must be http\(s\) URLs, comma-separated, got "ftp:\/\/x"/);
    expect(() => resolveConfig({ flags: { insecure: 'maybe' } })).toThrow(/flag --insecure must be a boolean \(1\/0, true\/false, yes\/no, on\/off\), got "maybe"/);
  });

  it('takes the enumerated settings only from their list, from the kernel as from a flag', () => {
    expect(() => resolveConfig({ kernel: { 'ipa-tls-min-version': '1.1' } })).toThrow(/kernel parameter ipa-tls-min-version must be one of 1.2, 1.3, got "1.1"/);
    expect(() => resolveConfig({ flags: { advertiseProtocol: 'ftp' } })).toThrow(/flag --advertise-protocol must be one of http, https, got "ftp"/);
    expect(resolveConfig({ kernel: { 'ipa-tls-min-version': '1.3' }, flags: { advertiseProtocol: 'https' } })).toMatchObject({ tlsMinVersion: '1.3', advertiseProtocol: 'https' });
  });

  it('refuses a boolean for a setting that is not one, and an empty repetition, by the flag\'s name (fuzz finding)', () => {
    expect(() => resolveConfig({ flags: { apiUrl: false } })).toThrow(/flag --api-url takes a list, not the boolean false/);
    expect(() => resolveConfig({ flags: { enableAutoTls: [] } })).toThrow(/flag --enable-auto-tls has no value/);
  });

  it('reads whole numbers as digits only and ports up to 65535 (fuzz finding: 65536 failed later in listen)', () => {
    for (const bad of ['', '0x10', '1e3', '-1', '1.5', '9007199254740993']) {
      expect(() => resolveConfig({ kernel: { 'ipa-lookup-timeout': bad } })).toThrow(/kernel parameter ipa-lookup-timeout must be a whole number/);
    }
    expect(() => resolveConfig({ kernel: { 'ipa-listen-port': '65536' } })).toThrow(/ipa-listen-port must be a whole number from 0 to 65535, got 65536/);
    expect(() => resolveConfig({ flags: { advertisePort: '70000' } })).toThrow(/--advertise-port must be a whole number from 0 to 65535, got 70000/);
    expect(resolveConfig({ flags: { listenPort: '0' } }).listenPort).toBe(0);
  });

  it('keeps a kernel parameter named __proto__ as a parameter (fuzz finding: the prototype setter swallowed it)', () => {
    const params = parseKernelCmdline('__proto__=x constructor=1 ipa-debug=1');
    expect(Object.keys(params)).toEqual(['__proto__', 'constructor', 'ipa-debug']);
    expect(params.__proto__).toBe('x');
    expect(resolveConfig({ kernel: params }).debug).toBe(true);
  });
});
