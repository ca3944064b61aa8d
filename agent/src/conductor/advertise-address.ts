import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import { IngotError } from '@ingot/protocol';
import type { System } from '../system/system.ts';
import { abortableSleep } from './lookup.ts';

/** The `prefsrc` of `ip -j route get <ip>` output, ignoring link-local sources (2.5). */
export function parseRouteSource(json: string): string | undefined {
  const routes = JSON.parse(json) as Array<{ prefsrc?: string }>;
  const source = routes.find((route) => route.prefsrc)?.prefsrc;
  return source && !source.startsWith('169.254.') && !source.toLowerCase().startsWith('fe80:') ? source : undefined;
}

/**
 * The address the conductor should call back: the source address of the
 * route towards the conductor, retried a few times while the network settles.
 */
export async function detectAdvertiseAddress(options: {
  apiUrl: string; system: System; log: Logger; attempts: number; sleepSeconds: number; signal: AbortSignal;
}): Promise<string> {
  const host = new URL(options.apiUrl).hostname.replace(/^\[|\]$/g, '');
  let lastReason = 'no attempt made';
  for (let attempt = 1; attempt <= Math.max(1, options.attempts); attempt += 1) {
    try {
      const ip = isIP(host) ? host : (await dnsLookup(host)).address;
      if (ip === '127.0.0.1' || ip === '::1') return ip;
      const { stdout } = await options.system.run(['ip', '-j', 'route', 'get', ip]);
      const source = parseRouteSource(stdout);
      if (source) return source;
      lastReason = `no usable source address on the route to ${ip}`;
    } catch (error) {
      lastReason = (error as Error).message;
    }
    options.log.warn({ attempt, reason: lastReason }, 'cannot tell which address to advertise yet');
    if (attempt < options.attempts) await abortableSleep(options.sleepSeconds * 1000, options.signal);
  }
  throw new IngotError('INGOT_CONFIG_INVALID', { details: `cannot find the address to advertise to ${options.apiUrl} (${lastReason}); set ipa-advertise-host` });
}
