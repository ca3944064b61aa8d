/**
 * A tiny client for the parts of Ironic's REST API a compatibility test
 * needs: enrol a node and a port, move it through provision states, read it
 * back, and, for experiments, the ramdisk's own lookup call.
 */

/** Newest microversion of Ironic 21.4 (ironic-conductor.md §2). */
export const IRONIC_API_VERSION = '1.82';
/** What IPA uses for lookup and heartbeat: min(server max, 1.68). */
export const RAMDISK_API_VERSION = '1.68';

export type PowerTarget = 'power on' | 'power off' | 'rebooting';

export type ProvisionTarget = 'manage' | 'provide' | 'active' | 'deleted' | 'clean' | 'abort' | 'inspect' | 'rebuild';

export interface IronicNode {
  uuid: string;
  name: string | null;
  driver: string;
  provision_state: string;
  target_provision_state: string | null;
  power_state: string | null;
  last_error: string | null;
  maintenance: boolean;
  properties: Record<string, unknown>;
  driver_info: Record<string, unknown>;
  driver_internal_info: Record<string, unknown>;
  instance_info: Record<string, unknown>;
  clean_step: Record<string, unknown>;
  deploy_step: Record<string, unknown>;
  [key: string]: unknown;
}

export interface IronicPort {
  uuid: string;
  address: string;
  node_uuid: string;
  [key: string]: unknown;
}

export interface CreateNodeInput {
  name: string;
  memoryMb?: number;
  cpuArch?: string;
  localGb?: number;
  /** Extra properties (root_device, capabilities such as `boot_mode:bios`, ...). */
  properties?: Record<string, unknown>;
  /** Must hold `deploy_kernel` and `deploy_ramdisk` URLs the conductor can fetch (the pxe boot interface caches them). */
  driverInfo: Record<string, unknown>;
  /** The node's raid_interface (`agent` for the ramdisk's software RAID steps); Ironic's default (`no-raid`) when omitted. */
  raidInterface?: string;
}

/** One RFC 6902 operation of `PATCH /v1/nodes/<uuid>`. */
export interface JsonPatchOperation {
  op: 'add' | 'replace' | 'remove';
  path: string;
  value?: unknown;
}

export interface LookupReply {
  node: { uuid: string; properties: Record<string, unknown>; driver_internal_info: Record<string, unknown> };
  config: { agent_token: string | null; agent_token_required: boolean; heartbeat_timeout: number; [key: string]: unknown };
}

/** An HTTP error from Ironic, with the faultstring unwrapped. */
export class IronicApiError extends Error {
  readonly status: number;
  readonly faultstring: string;

  constructor(method: string, path: string, status: number, faultstring: string) {
    super(`${method} ${path} answered ${status}: ${faultstring}`);
    this.name = 'IronicApiError';
    this.status = status;
    this.faultstring = faultstring;
  }
}

/** The node reached a state it cannot leave on its own, or the wait timed out. */
export class ProvisionStateError extends Error {
  readonly node: IronicNode | undefined;

  constructor(message: string, node: IronicNode | undefined, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ProvisionStateError';
    this.node = node;
  }
}

/**
 * Ironic wraps its error JSON inside a string:
 * `{"error_message": "{\"faultcode\": ..., \"faultstring\": ...}"}`
 * (ironic-conductor.md §2). Falls back to the raw text.
 */
export function parseIronicError(text: string): string {
  try {
    const outer = JSON.parse(text) as { error_message?: unknown };
    const inner = outer.error_message;
    if (typeof inner === 'string') {
      try {
        const fault = JSON.parse(inner) as { faultstring?: unknown };
        if (typeof fault.faultstring === 'string') return fault.faultstring;
      } catch {
        return inner;
      }
      return inner;
    }
    if (inner && typeof inner === 'object' && typeof (inner as { faultstring?: unknown }).faultstring === 'string') {
      return (inner as { faultstring: string }).faultstring;
    }
  } catch {
    // not JSON
  }
  return text.trim() || '(empty body)';
}

export interface WaitOptions {
  timeoutMs: number;
  /** States that end the wait with an error carrying the node's last_error. */
  failOn?: string[];
  intervalMs?: number;
  /** Called with every node read while waiting (e.g. to record agent_url). */
  onPoll?: (node: IronicNode) => void;
}

export const DEFAULT_FAIL_STATES = ['clean failed', 'deploy failed', 'error', 'inspect failed', 'rescue failed'];

export interface IronicApi {
  readonly url: string;
  createNode(input: CreateNodeInput): Promise<IronicNode>;
  createPort(nodeUuid: string, mac: string): Promise<IronicPort>;
  getNode(uuid: string): Promise<IronicNode>;
  updateNode(uuid: string, patch: JsonPatchOperation[]): Promise<IronicNode>;
  setProvisionState(uuid: string, target: ProvisionTarget, body?: Record<string, unknown>): Promise<void>;
  /**
   * `PUT /v1/nodes/<uuid>/states/raid` (microversion 1.12 and later): the
   * node's target_raid_config, which Ironic checks against its RAID schema
   * and the raid interface's validation before storing it.
   */
  setTargetRaidConfig(uuid: string, config: Record<string, unknown>): Promise<void>;
  /** `PUT /v1/nodes/<uuid>/states/power`; Ironic answers 202 and acts in the background. */
  setPowerState(uuid: string, target: PowerTarget): Promise<void>;
  waitForProvisionState(uuid: string, wanted: string, options: WaitOptions): Promise<IronicNode>;
  /** The ramdisk's lookup at microversion 1.68, as IPA does it. */
  lookup(macs: string[]): Promise<LookupReply>;
}

export function createIronicApi(baseUrl: string): IronicApi {
  const url = baseUrl.replace(/\/+$/, '');

  async function call<T>(method: string, path: string, body?: unknown, version = IRONIC_API_VERSION): Promise<T> {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: {
        'X-OpenStack-Ironic-API-Version': version,
        Accept: 'application/json',
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    if (!response.ok) throw new IronicApiError(method, path, response.status, parseIronicError(text));
    return (text ? JSON.parse(text) : undefined) as T;
  }

  const api: IronicApi = {
    url,

    // manual-management with noop management: the end of a deploy sets the
    // boot device to disk, which fake-hardware's fake management refuses in
    // BIOS mode (in UEFI mode Debian's 21.4 skips the call only for
    // `properties.vendor: lenovo`). Fake power: no BMC; the agent is told to
    // power off and Ironic just records the state.
    createNode: (input) =>
      call<IronicNode>('POST', '/v1/nodes', {
        name: input.name,
        driver: 'manual-management',
        deploy_interface: 'direct',
        boot_interface: 'pxe',
        power_interface: 'fake',
        management_interface: 'noop',
        network_interface: 'noop',
        ...(input.raidInterface ? { raid_interface: input.raidInterface } : {}),
        driver_info: input.driverInfo,
        properties: {
          memory_mb: input.memoryMb ?? 2048,
          cpu_arch: input.cpuArch ?? 'x86_64',
          local_gb: input.localGb ?? 1,
          ...input.properties,
        },
      }),

    updateNode: (uuid, patch) => call<IronicNode>('PATCH', `/v1/nodes/${encodeURIComponent(uuid)}`, patch),

    createPort: (nodeUuid, mac) => call<IronicPort>('POST', '/v1/ports', { node_uuid: nodeUuid, address: mac }),

    getNode: (uuid) => call<IronicNode>('GET', `/v1/nodes/${encodeURIComponent(uuid)}`),

    setProvisionState: async (uuid, target, body = {}) => {
      await call<undefined>('PUT', `/v1/nodes/${encodeURIComponent(uuid)}/states/provision`, { ...body, target });
    },

    setTargetRaidConfig: async (uuid, config) => {
      await call<undefined>('PUT', `/v1/nodes/${encodeURIComponent(uuid)}/states/raid`, config);
    },

    setPowerState: async (uuid, target) => {
      await call<undefined>('PUT', `/v1/nodes/${encodeURIComponent(uuid)}/states/power`, { target });
    },

    waitForProvisionState: async (uuid, wanted, options) => {
      const failOn = options.failOn ?? DEFAULT_FAIL_STATES;
      const deadline = Date.now() + options.timeoutMs;
      let node: IronicNode | undefined;
      for (;;) {
        node = await api.getNode(uuid);
        options.onPoll?.(node);
        if (node.provision_state === wanted) return node;
        if (failOn.includes(node.provision_state)) {
          throw new ProvisionStateError(
            `node ${uuid} went to '${node.provision_state}' while waiting for '${wanted}': ${node.last_error ?? '(no last_error)'}`,
            node,
          );
        }
        if (Date.now() >= deadline) break;
        await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 500));
      }
      throw new ProvisionStateError(
        `node ${uuid} still '${node.provision_state}' (target '${node.target_provision_state ?? ''}') after ${options.timeoutMs} ms ` +
          `waiting for '${wanted}'; last_error: ${node.last_error ?? '(none)'}`,
        node,
      );
    },

    lookup: (macs) =>
      call<LookupReply>('GET', `/v1/lookup?addresses=${macs.map(encodeURIComponent).join(',')}`, undefined, RAMDISK_API_VERSION),
  };
  return api;
}
