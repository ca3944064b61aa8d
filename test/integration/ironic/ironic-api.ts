/**
 * A tiny client for the parts of Ironic's REST API a compatibility test
 * needs: enrol a node and a port, move it through provision states, read it
 * back, and, for experiments, the ramdisk's own lookup call.
 */

/** Newest microversion of Ironic 21.4 (ironic-conductor.md §2). */
export const IRONIC_API_VERSION = '1.82';
/** What IPA uses for lookup and heartbeat: min(server max, 1.68). */
export const RAMDISK_API_VERSION = '1.68';

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
  /** Extra properties; `vendor: lenovo` is always set (see createNode). */
  properties?: Record<string, unknown>;
  driverInfo?: Record<string, unknown>;
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
  setProvisionState(uuid: string, target: ProvisionTarget, body?: Record<string, unknown>): Promise<void>;
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

    createNode: (input) =>
      call<IronicNode>('POST', '/v1/nodes', {
        name: input.name,
        driver: 'fake-hardware',
        deploy_interface: 'direct',
        boot_interface: 'fake',
        power_interface: 'fake',
        management_interface: 'fake',
        network_interface: 'noop',
        driver_info: {
          // The fake boot interface never fetches these.
          deploy_kernel: 'http://127.0.0.1:9/deploy.kernel',
          deploy_ramdisk: 'http://127.0.0.1:9/deploy.initramfs',
          ...input.driverInfo,
        },
        properties: {
          memory_mb: input.memoryMb ?? 2048,
          cpu_arch: input.cpuArch ?? 'x86_64',
          local_gb: input.localGb ?? 1,
          ...input.properties,
          // Debian's 21.4 skips "set boot device to disk" (which fake
          // management refuses) for Lenovo in UEFI mode: a test-only
          // workaround (ironic-standalone.md, "Pitfalls").
          vendor: 'lenovo',
        },
      }),

    createPort: (nodeUuid, mac) => call<IronicPort>('POST', '/v1/ports', { node_uuid: nodeUuid, address: mac }),

    getNode: (uuid) => call<IronicNode>('GET', `/v1/nodes/${encodeURIComponent(uuid)}`),

    setProvisionState: async (uuid, target, body = {}) => {
      await call<undefined>('PUT', `/v1/nodes/${encodeURIComponent(uuid)}/states/provision`, { ...body, target });
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
