/**
 * Debian's Ironic 21.4 on the host for an agent inside QEMU: the same server
 * and API client as the integration rig (test/integration/ironic), with the
 * node's port carrying the guest's MAC. The guest reaches Ironic through a
 * guestfwd relay and Ironic calls the agent back through hostfwd on
 * 127.0.0.1 (the agent advertises that address), so no other network exists.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createIronicApi, type IronicApi, type IronicNode } from '../integration/ironic/ironic-api.ts';
import { startIronic, type IronicServer } from '../integration/ironic/ironic-server.ts';
import { startImageServer, type ImageServer } from '../support/nginx-image-server.ts';

export interface IronicForGuestOptions {
  workDir: string;
  /** The guest's MAC: the node's one port, what the agent's lookup sends. */
  mac: string;
  name: string;
  bootMode: 'bios' | 'uefi';
  /** [api]ramdisk_heartbeat_timeout: the agent heartbeats every 0.3-0.6x of it. */
  heartbeatTimeout: number;
  /** The node's raid_interface (`agent` for software RAID through the ramdisk). */
  raidInterface?: string;
}

export interface IronicForGuest {
  readonly ironic: IronicServer;
  readonly api: IronicApi;
  readonly node: IronicNode;
  /** Serves the deploy kernel and ramdisk that the pxe boot interface fetches before every cleaning (nothing boots them). */
  readonly images: ImageServer;
  /** Ironic's 4xx answers and its log's tail on stderr, once. */
  printLogs(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts Ironic, enrols the node with its port and makes it `manageable`; stops what started if a later part fails. */
export async function startIronicForGuest(options: IronicForGuestOptions): Promise<IronicForGuest> {
  const www = path.join(options.workDir, 'ironic-www');
  await mkdir(www, { recursive: true });
  await writeFile(path.join(www, 'deploy.kernel'), 'not a kernel\n');
  await writeFile(path.join(www, 'deploy.initramfs'), 'not an initramfs\n');
  const images = await startImageServer({ root: www, stateDir: path.join(options.workDir, 'ironic-nginx') });
  let ironic: IronicServer | undefined;
  try {
    ironic = await startIronic({
      stateDir: path.join(options.workDir, 'ironic'), fastTrack: false, heartbeatTimeout: options.heartbeatTimeout, requireTls: true,
      log: (line) => console.log(`[ironic] ${line}`),
    });
    const api = createIronicApi(ironic.url);
    const created = await api.createNode({
      name: options.name, driverInfo: { deploy_kernel: `${images.url}/deploy.kernel`, deploy_ramdisk: `${images.url}/deploy.initramfs` },
      properties: { capabilities: `boot_mode:${options.bootMode}` },
      ...(options.raidInterface ? { raidInterface: options.raidInterface } : {}),
    });
    await api.createPort(created.uuid, options.mac);
    await api.setProvisionState(created.uuid, 'manage');
    const node = await api.waitForProvisionState(created.uuid, 'manageable', { timeoutMs: 30_000 });
    const server = ironic;
    let printed = false;
    return {
      ironic: server, api, node, images,
      async printLogs() {
        if (printed) return;
        printed = true;
        console.error(`--- 4xx answers Ironic gave (distinct) ---\n${(await server.readClientErrors()).join('\n') || '(none)'}`);
        console.error(`--- ${server.logPath} (tail) ---\n${await server.logTail(150)}`);
      },
      async stop() {
        await server.stop();
        await images.stop();
      },
    };
  } catch (error) {
    await ironic?.stop();
    await images.stop();
    throw error;
  }
}
