import type { Logger } from 'pino';
import type { System } from '../system/system.ts';

/** How the machine is powered off or rebooted at the end of standby.power_off / run_image. */
export interface PowerControl {
  /** True when nothing will actually cut the power (a simulated machine). */
  readonly simulated: boolean;
  powerOff(): Promise<void>;
  reboot(): Promise<void>;
}

/** Outside the ramdisk the host is never powered off: the action is logged and the agent starts over. */
export function createSimulatedPower(log: Logger): PowerControl {
  return {
    simulated: true,
    async powerOff() { log.warn('simulated machine: not powering off the host; the agent will start over as freshly booted'); },
    async reboot() { log.warn('simulated machine: not rebooting the host; the agent will start over as freshly booted'); },
  };
}

/**
 * Inside the ramdisk: `poweroff -f` / `reboot -f`, and if that fails or is
 * ignored, the magic SysRq key (IPA's fallback, 4.2).
 */
export function createRamdiskPower(system: System, log: Logger): PowerControl {
  const act = async (tool: 'poweroff' | 'reboot', sysrq: 'o' | 'b') => {
    await system.run(['sync'], { allowFailure: true });
    const result = await system.run([tool, '-f'], { allowFailure: true });
    if (result.exitCode !== 0 || /ignoring request/i.test(result.stderr)) {
      log.warn({ stderr: result.stderr }, `${tool} failed; using /proc/sysrq-trigger`);
      // The kernel acts on the first character written (Documentation/admin-guide/sysrq.rst).
      await system.writeText('/proc/sysrq-trigger', sysrq).catch((error: unknown) => log.error({ err: error }, 'writing /proc/sysrq-trigger failed'));
    }
  };
  return {
    simulated: false,
    powerOff: () => act('poweroff', 'o'),
    reboot: () => act('reboot', 'b'),
  };
}
