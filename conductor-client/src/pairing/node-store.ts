/**
 * Where the pairing layer keeps what it knows about nodes. A conductor with a
 * database implements `NodeStore` over it; `createMemoryNodeStore()` serves
 * tests, demos and the reference conductor.
 */
import { normaliseMac } from './mac.ts';

/** What pairing needs to know about one node. */
export interface NodeRecord {
  uuid: string;
  name?: string;
  /** MAC addresses of the node's ports, lower-case `aa:bb:cc:dd:ee:ff`. */
  macs: string[];
  /** Source addresses and CIDRs allowed to look up and heartbeat; empty or absent allows all. */
  allowedAddresses?: string[];
  /** Hex SHA-256 of the agent token; the plaintext is never stored. */
  tokenHash?: string;
  /** The token was issued out of band (virtual media) and survives reboots. */
  tokenPregenerated?: boolean;
  /** The agent's `callback_url`, recorded from its first accepted heartbeat. */
  agentUrl?: string;
  /** PEM the agent sent as `agent_verify_ca`; pin it when calling the agent. */
  agentVerifyCa?: string;
  agentVersion?: string;
  /** ISO 8601 time of the last accepted heartbeat. */
  lastHeartbeatAt?: string;
  /** Whether lookup may find the node (Ironic allows it only in deploy/clean/inspect/rescue states). */
  lookupAllowed: boolean;
  properties: Record<string, unknown>;
  instance_info: Record<string, unknown>;
  driver_internal_info: Record<string, unknown>;
}

/**
 * Changes a record. Called with the current record; returns the fields to
 * change, or undefined to change nothing. It may throw to refuse the change,
 * and then nothing must be written. Pairing puts its checks inside this
 * function so that check and write happen as one step (Ironic holds a node
 * lock for the same reason).
 */
export type NodeMutation = (current: Readonly<NodeRecord>) => Partial<NodeRecord> | undefined;

export interface NodeStore {
  /** The node with this UUID, else the one with this name. */
  get(uuidOrName: string): Promise<NodeRecord | undefined>;
  /** The node owning any of these (normalised) MAC addresses. */
  findByAddresses(macs: readonly string[]): Promise<NodeRecord | undefined>;
  /** Creates or replaces a record. */
  put(record: NodeRecord): Promise<void>;
  /**
   * Applies `mutate` atomically (a database store runs it in a transaction or
   * as a compare-and-set) and returns the record as stored afterwards, or
   * undefined when there is no such node. Fields set to undefined are removed.
   */
  update(uuid: string, mutate: NodeMutation): Promise<NodeRecord | undefined>;
}

/** Fills the defaults of a record and normalises its MAC addresses. */
export function createNodeRecord(input: Partial<NodeRecord> & { uuid: string }): NodeRecord {
  return {
    ...input,
    uuid: input.uuid,
    macs: (input.macs ?? []).map((mac) => normaliseMac(mac) ?? mac.toLowerCase()),
    lookupAllowed: input.lookupAllowed ?? false,
    properties: input.properties ?? {},
    instance_info: input.instance_info ?? {},
    driver_internal_info: input.driver_internal_info ?? {},
  };
}

function copy(record: NodeRecord): NodeRecord {
  return structuredClone(record);
}

/** An in-memory NodeStore. Mutations run synchronously, hence atomically. */
export function createMemoryNodeStore(initial: readonly NodeRecord[] = []): NodeStore {
  const nodes = new Map<string, NodeRecord>();
  for (const record of initial) nodes.set(record.uuid, copy(createNodeRecord(record)));
  return {
    async get(uuidOrName) {
      const byUuid = nodes.get(uuidOrName);
      if (byUuid) return copy(byUuid);
      for (const record of nodes.values()) if (record.name !== undefined && record.name === uuidOrName) return copy(record);
      return undefined;
    },
    async findByAddresses(macs) {
      const wanted = new Set(macs.map((mac) => normaliseMac(mac) ?? mac.toLowerCase()));
      for (const record of nodes.values()) if (record.macs.some((mac) => wanted.has(mac))) return copy(record);
      return undefined;
    },
    async put(record) {
      nodes.set(record.uuid, copy(createNodeRecord(record)));
    },
    async update(uuid, mutate) {
      const current = nodes.get(uuid);
      if (!current) return undefined;
      const patch = mutate(copy(current));
      if (!patch) return copy(current);
      const next: Record<string, unknown> = { ...current, ...patch, uuid };
      for (const key of Object.keys(next)) if (next[key] === undefined) delete next[key];
      nodes.set(uuid, next as unknown as NodeRecord);
      return copy(next as unknown as NodeRecord);
    },
  };
}
