import type { Logger } from 'pino';
import type { System } from '../system/system.ts';

/** `ip link set <interface> down` */
export function linkDownArgv(name: string): string[] {
  return ['ip', 'link', 'set', name, 'down'];
}

/**
 * system.lockdown's last act inside the ramdisk (ipa-protocol.md 4.2): every
 * interface of /sys/class/net goes down, so that nothing reaches the machine
 * any more. Loopback stays up: it is not reachable from outside, and local
 * tools on the console may need it. A failure is logged and the rest go down
 * all the same. Returns the interfaces taken down.
 */
export async function bringInterfacesDown(system: System, log: Logger): Promise<string[]> {
  const names = (await system.listDir('/sys/class/net').catch(() => [] as string[])).filter((name) => name !== 'lo').sort();
  const down: string[] = [];
  for (const name of names) {
    const result = await system.run(linkDownArgv(name), { allowFailure: true });
    if (result.exitCode === 0) down.push(name);
    else log.warn({ interface: name, stderr: result.stderr.trim() }, 'could not take a network interface down');
  }
  return down;
}
