/**
 * image-build's `--static` option renders network_data.json for virtual
 * media; the agent in the ramdisk parses it. Both ends, attacked together:
 * any option text is a network or a refusal naming --static, and what is
 * rendered is read back as it was meant.
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { parseNetworkData } from '@ingot/agent';
import { parseStaticNetwork, renderNetworkData } from '@ingot/image-build/config-media';
import { fuzz } from '../support/fuzz.ts';
import { oddString, timed } from '../support/fuzz-inputs.ts';

const mac = fc.uint8Array({ minLength: 6, maxLength: 6 }).map((b) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(':'));
const option = fc.oneof(
  oddString,
  fc.ipV4().map((v) => `gw=${v}`), fc.ipV4().map((v) => `dns=${v}`), mac.map((m) => `mac=${m.toUpperCase()}`),
  fc.integer({ min: 0, max: 100_000 }).map((n) => `mtu=${n}`), fc.constantFrom('gw=', 'mac=', '=', 'x=1', 'gw=::1', 'dns=1.2.3'),
);

it('reads any --static text as a network the agent accepts, or refuses it naming --static', async () => {
  await fuzz('parseStaticNetwork on any text', 150, fc.property(
    fc.oneof(oddString, fc.tuple(fc.ipV4(), fc.integer({ min: -1, max: 40 }), fc.array(option, { maxLength: 4 })).map(([ip, p, opts]) => [`${ip}/${p}`, ...opts].join(','))),
    (spec) => {
      try {
        const network = timed(() => parseStaticNetwork(spec));
        expect(network.prefix).toBeLessThanOrEqual(32);
        expect(network.mac).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
        // What image-build accepts, the agent must take: a medium it refuses leaves the machine unreachable.
        parseNetworkData(JSON.stringify(renderNetworkData(network)), 'config-2: network_data.json');
      } catch (error) {
        expect((error as Error).constructor).toBe(Error);
        expect((error as Error).message).toContain('--static');
      }
    },
  ));
});

it('renders network_data.json that the agent reads back with the same address, prefix, gateway, MAC, MTU and DNS', async () => {
  await fuzz('--static rendered and read back by the agent', 150, fc.property(
    fc.ipV4(), fc.integer({ min: 0, max: 32 }), fc.option(fc.ipV4(), { nil: undefined }), mac, fc.array(fc.ipV4(), { maxLength: 3 }), fc.option(fc.integer({ min: 68, max: 9000 }), { nil: undefined }),
    (address, prefix, gateway, linkMac, dns, mtu) => {
      const spec = [`${address}/${prefix}`, ...(gateway ? [`gw=${gateway}`] : []), `mac=${linkMac}`, ...dns.map((d) => `dns=${d}`), ...(mtu ? [`mtu=${mtu}`] : [])].join(',');
      const data = parseNetworkData(JSON.stringify(renderNetworkData(parseStaticNetwork(spec))), 'config-2: network_data.json');
      expect(data.links).toEqual([{ id: 'port0', kind: 'physical', mac: linkMac, mtu }]);
      expect(data.networks).toEqual([{ id: 'network0', link: 'port0', kind: 'static', family: 4, address, prefix, routes: gateway ? [{ destination: 'default', gateway }] : [] }]);
      expect(data.dns).toEqual([...new Set(dns)]);
    },
  ));
});
