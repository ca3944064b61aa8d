import { describe, expect, it } from 'vitest';
import { renderConfigFiles } from './build-config-media.ts';
import { renderParameters } from './parameters.ts';
import { parseStaticNetwork, renderNetworkData } from './static-network.ts';

describe('config media contents', () => {
  it('writes the conductor URL, the pre-set token and extra parameters to etc/ingot/parameters.txt, extras winning', () => {
    const files = renderConfigFiles({ apiUrl: ['https://a:6385', 'https://b:6385'], agentToken: 't'.repeat(40), extraParameters: { 'ipa-lookup-timeout': '300' } });
    expect(Object.keys(files)).toEqual(['etc/ingot/parameters.txt']);
    expect(files['etc/ingot/parameters.txt']).toMatch(/^# .*\nipa-api-url=https:\/\/a:6385,https:\/\/b:6385\nipa-agent-token=t{40}\nipa-lookup-timeout=300\n$/);
  });

  it('turns --static into the network_data.json Ironic writes, with a default route and DNS', () => {
    expect(renderNetworkData(parseStaticNetwork('10.0.2.15/24,gw=10.0.2.2,mac=52:54:00:12:34:56,dns=10.0.2.3'))).toEqual({
      links: [{ id: 'port0', type: 'phy', ethernet_mac_address: '52:54:00:12:34:56' }],
      networks: [{ id: 'network0', type: 'ipv4', link: 'port0', network_id: 'network0', ip_address: '10.0.2.15', netmask: '255.255.255.0', routes: [{ network: '0.0.0.0', netmask: '0.0.0.0', gateway: '10.0.2.2' }] }],
      services: [{ type: 'dns', address: '10.0.2.3' }],
    });
  });

  it.each([
    ['10.0.2.15,mac=52:54:00:12:34:56', /IPv4 address and prefix/],
    ['10.0.2.15/24,gw=10.0.2.2', /mac=.* is required/],
    ['10.0.2.15/24,mac=52:54:00:12:34:56,via=1.2.3.4', /"via=1.2.3.4" is not/],
  ])('refuses --static %s with a message saying what is wrong', (spec, message) => {
    expect(() => parseStaticNetwork(spec)).toThrow(message);
  });

  it('refuses a short token, a URL that is not http(s) and a CA that is not PEM', () => {
    expect(() => renderConfigFiles({ apiUrl: 'https://a', agentToken: 'short' })).toThrow(/32 characters/);
    expect(() => renderConfigFiles({ apiUrl: 'ftp://a' })).toThrow(/http\(s\)/);
    expect(() => renderConfigFiles({ apiUrl: 'https://a', caPem: 'hello' })).toThrow(/PEM/);
  });

  it('refuses parameter values with whitespace, naming the parameter', () => {
    expect(() => renderParameters({ 'ipa-x': 'a b' })).toThrow(/ipa-x/);
  });
});

describe('--static MTU (fuzz finding)', () => {
  it('takes an MTU of 68 to 65535 only, what the agent accepts in network_data.json (65536 built a medium the agent refused)', () => {
    for (const mtu of ['0', '67', '65536', '99999999']) expect(() => parseStaticNetwork(`10.0.2.15/24,mac=52:54:00:12:34:56,mtu=${mtu}`)).toThrow(/mtu=<68 to 65535>/);
    expect(parseStaticNetwork('10.0.2.15/24,mac=52:54:00:12:34:56,mtu=9000').mtu).toBe(9000);
  });
});
