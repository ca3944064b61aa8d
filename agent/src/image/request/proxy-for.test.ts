import { describe, expect, it } from 'vitest';
import { proxyFor } from './proxy-for.ts';

const proxies = { http: 'http://proxy.example:3128', https: 'http://tunnel.example:3128' };
const via = (url: string, noProxy: string | null = null) => proxyFor(proxies, noProxy, new URL(url));

describe('proxyFor', () => {
  it('chooses the proxy by the URL scheme, and none when that scheme has no proxy', () => {
    expect(via('http://images.example/disk.raw')).toBe('http://proxy.example:3128');
    expect(via('https://images.example/disk.raw')).toBe('http://tunnel.example:3128');
    expect(proxyFor({ http: null, https: 'http://t:1' }, null, new URL('http://images.example/x'))).toBeUndefined();
  });

  it('bypasses the proxy for a host listed in no_proxy, and for its subdomains on a label boundary', () => {
    expect(via('http://images.example/x', 'other.example, images.example')).toBeUndefined();
    expect(via('http://a.images.example/x', 'images.example')).toBeUndefined();
    expect(via('http://a.images.example/x', '.images.example')).toBeUndefined();
    expect(via('http://a.images.example/x', '*.images.example')).toBeUndefined();
    expect(via('http://badimages.example/x', 'images.example')).toBe('http://proxy.example:3128');
    expect(via('http://IMAGES.example/x', 'images.EXAMPLE')).toBeUndefined();
  });

  it('bypasses every host for *', () => {
    expect(via('https://anything.example/x', '*')).toBeUndefined();
  });

  it('matches host:port entries only on that port, the default port included', () => {
    expect(via('http://images.example:8080/x', 'images.example:8080')).toBeUndefined();
    expect(via('http://images.example:9090/x', 'images.example:8080')).toBe('http://proxy.example:3128');
    expect(via('https://images.example/x', 'images.example:443')).toBeUndefined();
  });

  it('matches IP hosts exactly or by CIDR, IPv4 and IPv6, never by suffix', () => {
    expect(via('http://10.1.2.3/x', '10.0.0.0/8')).toBeUndefined();
    expect(via('http://192.0.2.10/x', '10.0.0.0/8')).toBe('http://proxy.example:3128');
    expect(via('http://192.0.2.10/x', '192.0.2.10')).toBeUndefined();
    expect(via('http://192.0.2.10/x', '2.10')).toBe('http://proxy.example:3128');
    expect(via('http://[2001:db8::5]/x', '2001:db8::/32')).toBeUndefined();
    expect(via('http://[2001:db8::5]/x', '[2001:db8::5]')).toBeUndefined();
    expect(via('http://[2001:db9::5]/x', '2001:db8::/32')).toBe('http://proxy.example:3128');
  });

  it('ignores empty entries and spaces', () => {
    expect(via('http://images.example/x', ' , ,')).toBe('http://proxy.example:3128');
  });
});

describe('proxyFor on odd no_proxy entries (fuzz finding)', () => {
  it('treats a CIDR whose prefix exceeds the address width (0.0.0.0/33, ::/129) as matching nothing instead of throwing RangeError', () => {
    expect(via('http://10.0.0.1/x', '0.0.0.0/33')).toBe('http://proxy.example:3128');
    expect(via('http://[::1]/x', '::/129, 10.0.0.0/8')).toBe('http://proxy.example:3128');
    expect(via('http://10.0.0.1/x', '0.0.0.0/33, 10.0.0.0/8')).toBeUndefined();
  });
});
