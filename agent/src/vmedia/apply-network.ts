import { IngotError } from '@ingot/protocol';
import type { System } from '../system/system.ts';
import { planNetworkCommands, type MachineInterface } from './network-commands.ts';
import { parseNetworkData } from './network-data.ts';

export interface NetworkOutcome {
  method: 'static' | 'dhcp' | 'none';
  interfaces: Record<string, string>;
  commands: string[][];
  dhcp: string[];
  dns: boolean;
  notes: string[];
}

/** The machine's interfaces and their MACs, from /sys/class/net (no udev, no `ip -j` needed). */
export async function readMachineInterfaces(system: System): Promise<Array<MachineInterface & { physical: boolean }>> {
  const names = await system.listDir('/sys/class/net').catch(() => [] as string[]);
  const found: Array<MachineInterface & { physical: boolean }> = [];
  for (const name of names.sort()) {
    const mac = (await system.readText(`/sys/class/net/${name}/address`).catch(() => '')).trim().toLowerCase();
    if (!mac) continue;
    found.push({ name, mac, physical: await system.exists(`/sys/class/net/${name}/device`) });
  }
  return found;
}

/** The ramdisk's udhcpc hook (image-build/src/udhcpc.script), which applies a lease with iproute2. */
export const UDHCPC_SCRIPT = '/etc/ingot/udhcpc.script';

/** busybox udhcpc: obtain a lease (5 discovers at most), apply it through the hook script, and exit. */
export const udhcpcArgv = (iface: string, script?: string) => ['udhcpc', '-q', '-n', '-t', '5', '-i', iface, ...(script ? ['-s', script] : [])];

/**
 * Configures the network from virtual media. With network_data.json, its
 * static addresses and routes are applied with `ip` (and DHCP runs only on
 * `ipv4_dhcp` networks). Without it, /init skipped DHCP because a
 * configuration device was present, so DHCP runs here on every physical NIC.
 */
export async function applyVirtualMediaNetwork(system: System, networkData: { text: string; source: string } | undefined): Promise<NetworkOutcome> {
  const machine = await readMachineInterfaces(system);
  if (!networkData) {
    const physical = machine.filter((nic) => nic.physical).map((nic) => nic.name);
    const leased = await runDhcp(system, physical);
    return { method: leased.length > 0 ? 'dhcp' : 'none', interfaces: {}, commands: [], dhcp: leased, dns: false, notes: [] };
  }
  const plan = planNetworkCommands(parseNetworkData(networkData.text, networkData.source), machine, networkData.source);
  for (const argv of plan.commands) {
    try {
      await system.run(argv, { timeoutMs: 15_000 });
    } catch (error) {
      throw new IngotError('INGOT_CONFIG_INVALID', { details: `${networkData.source}: applying it failed at "${argv.join(' ')}": ${(error as Error).message}`, cause: error });
    }
  }
  if (plan.resolvConf) await system.writeText('/etc/resolv.conf', plan.resolvConf);
  const leased = await runDhcp(system, plan.dhcp);
  return { method: 'static', interfaces: plan.interfaces, commands: plan.commands, dhcp: leased, dns: plan.resolvConf !== undefined, notes: plan.notes };
}

async function runDhcp(system: System, interfaces: readonly string[]): Promise<string[]> {
  const leased: string[] = [];
  // Without Ingot's hook, busybox falls back to /usr/share/udhcpc/default.script.
  const script = interfaces.length > 0 && (await system.exists(UDHCPC_SCRIPT)) ? UDHCPC_SCRIPT : undefined;
  for (const iface of interfaces) {
    await system.run(['ip', 'link', 'set', 'dev', iface, 'up'], { allowFailure: true });
    const { exitCode } = await system.run(udhcpcArgv(iface, script), { allowFailure: true, timeoutMs: 60_000 });
    if (exitCode === 0) leased.push(iface);
  }
  return leased;
}
