import type { System } from '../system/system.ts';
import { applyVirtualMediaNetwork, type NetworkOutcome } from './apply-network.ts';
import { loadVirtualMedia, type VirtualMedia } from './load-virtual-media.ts';

export interface VirtualMediaSetUp {
  /** Kernel parameters with the virtual-media ones merged over them: what resolveConfig reads. */
  params: Record<string, string>;
  /** For the log once the logger exists; undefined when no configuration device was seen at all. */
  report: (VirtualMedia['report'] & { network: NetworkOutcome | undefined }) | undefined;
}

/**
 * Start-up step 1 of IPA (2.6) for the ramdisk: take configuration from
 * virtual media, then bring the network up from it, before the configuration
 * is resolved. Never call it outside the ramdisk: it mounts devices and
 * changes the network. `system` must be built with the ramdisk device guard.
 */
export async function setUpVirtualMedia(options: { system: System; kernel: Record<string, string> }): Promise<VirtualMediaSetUp> {
  const media = await loadVirtualMedia(options);
  if (!media.found && media.report.ignored.length === 0) return { params: options.kernel, report: undefined };
  if (!media.found) {
    // /init skips DHCP when it sees any of these labels; a refused device (a local disk's
    // config-2 partition) configures nothing, so DHCP must still run, here.
    return { params: options.kernel, report: { ...media.report, network: await applyVirtualMediaNetwork(options.system, undefined) } };
  }
  const network = await applyVirtualMediaNetwork(options.system, media.networkData);
  return { params: media.params, report: { ...media.report, network } };
}
