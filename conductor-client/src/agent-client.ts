/**
 * Drives one agent the way Ironic 21.4's AgentClient does (ironic-conductor.md
 * §1): `POST /v1/commands/?wait=…&agent_token=…`, `GET /v1/commands/`,
 * retries on lost connections with adoption of a RUNNING command.
 */
import type http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino, type Logger } from 'pino';
import {
  IngotError, isIngotError, type CommandResult, type NodeInfo, type SnapshotCaptureParams, type SnapshotCaptureResult, type StepRequest, redactUrl,
} from '@ingot/protocol';
import { createAgentPool, sendAgentRequest, type AgentHttpResponse } from './agent-http.ts';
import {
  bareCommandName, expectSucceeded, httpError, parseCommandList, parseCommandResult, parseStepsReply, type StepsReply,
} from './agent-results.ts';
import { parseSnapshotManifest } from './snapshot/snapshot-store.ts';

export interface AgentClientOptions {
  /** The agent's `callback_url` from its heartbeat, e.g. `https://192.0.2.10:9999`. */
  url: string;
  /** The plaintext agent token, sent as the `agent_token` query parameter. */
  token: string;
  /** PEM to pin (the heartbeat's `agent_verify_ca`); undefined uses the system store for https. */
  ca?: string;
  /** Per HTTP call, like Ironic's `[agent]command_timeout`. Default 60000. */
  timeoutMs?: number;
  /** Attempts per call on connection errors, like `[agent]max_command_attempts`. Default 3. */
  maxAttempts?: number;
  /** Send the token on GET too (Ingot and IPA ≥ 12 require it; Ironic 21.4 does not send it). Default true. */
  sendTokenOnGet?: boolean;
  /** Largest reply accepted (collect_system_logs returns a base64 tarball). Default 256 MiB. */
  maxResponseBytes?: number;
  log?: Logger;
}

export interface WaitForCommandOptions {
  /** Match this command id instead of the last command of that name. */
  id?: string;
  /** Default 6000, like `[agent]command_wait_interval`. */
  intervalMs?: number;
  /** Default 100, like `[agent]command_wait_attempts`; ignored when timeoutMs is given. */
  attempts?: number;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Called on each poll that finds the command still running (or not yet listed). */
  onProgress?: (result: CommandResult | undefined) => void;
}

export interface InstallBootloaderParams {
  rootUuid: string | null;
  efiSystemPartUuid?: string | null;
  prepBootPartUuid?: string | null;
  targetBootMode?: 'uefi' | 'bios';
  /** Software RAID in UEFI mode: no retry without target_boot_mode (Ironic's exception). */
  softwareRaid?: boolean;
}

/** A client for one agent; create a new one when the agent's URL, token or certificate changes. */
export class AgentClient {
  /** The agent's base URL (never carries the token). */
  readonly url: string;
  readonly #commandsUrl: string;
  readonly #token: string;
  readonly #pool: http.Agent;
  readonly #timeoutMs: number;
  readonly #maxAttempts: number;
  readonly #sendTokenOnGet: boolean;
  readonly #maxResponseBytes: number;
  readonly #log: Logger;

  constructor(options: AgentClientOptions) {
    const base = new URL(options.url);
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new IngotError('INGOT_CONFIG_INVALID', { details: 'agent URL must be http or https' });
    if (base.search || base.username || base.password) throw new IngotError('INGOT_CONFIG_INVALID', { details: 'agent URL must not carry a query or credentials' });
    if (!options.token) throw new IngotError('INGOT_CONFIG_INVALID', { details: 'an agent token is required' });
    this.url = `${base.origin}${base.pathname.replace(/\/+$/, '')}`;
    this.#commandsUrl = `${this.url}/v1/commands/`; // trailing slash, as Ironic sends it
    this.#token = options.token;
    this.#pool = createAgentPool(base, options.ca);
    this.#timeoutMs = options.timeoutMs ?? 60_000;
    this.#maxAttempts = Math.max(1, options.maxAttempts ?? 3);
    this.#sendTokenOnGet = options.sendTokenOnGet ?? true;
    this.#maxResponseBytes = options.maxResponseBytes ?? 256 * 1024 * 1024;
    this.#log = (options.log ?? pino({ level: 'silent' })).child({ agent: this.url });
  }

  /** Closes idle keep-alive connections. */
  close(): void {
    this.#pool.destroy();
  }

  async #send(method: 'GET' | 'POST', query: Record<string, string>, body: unknown, signal?: AbortSignal): Promise<AgentHttpResponse> {
    const url = new URL(this.#commandsUrl);
    for (const [key, value] of Object.entries(query)) url.searchParams.set(key, value);
    return sendAgentRequest({ method, url, body, agent: this.#pool, timeoutMs: this.#timeoutMs, signal, maxResponseBytes: this.#maxResponseBytes });
  }

  /** `GET /v1/commands/`: every command since the agent started, oldest first. */
  async getCommandsStatus({ retry = true, signal }: { retry?: boolean; signal?: AbortSignal } = {}): Promise<CommandResult[]> {
    const query: Record<string, string> = this.#sendTokenOnGet ? { agent_token: this.#token } : {};
    for (let attempt = 1; ; attempt++) {
      try {
        const response = await this.#send('GET', query, undefined, signal);
        if (response.status >= 400) throw httpError(response.status, response.body, `GET ${redactUrl(this.#commandsUrl)}`);
        return parseCommandList(response.body);
      } catch (error) {
        if (!retry || !isIngotError(error, 'INGOT_AGENT_UNREACHABLE') || attempt >= this.#maxAttempts) throw error;
        this.#log.warn({ err: error, attempt }, 'agent unreachable while listing commands; retrying');
      }
    }
  }

  /**
   * Runs `<extension>.<command>`. Returns the command result as the agent sent
   * it (RUNNING for wait=false, FAILED included); throws AgentBusyError when
   * the agent is busy, an IngotError from the agent's fault on other HTTP errors,
   * and INGOT_AGENT_UNREACHABLE after `maxAttempts` lost connections.
   */
  async runCommand(name: string, params: Record<string, unknown>, { wait = false, signal }: { wait?: boolean; signal?: AbortSignal } = {}): Promise<CommandResult> {
    const query = { wait: String(wait), agent_token: this.#token }; // order as Ironic: wait, then agent_token
    const log = this.#log.child({ command: name });
    for (let attempt = 1; ; attempt++) {
      let response: AgentHttpResponse;
      try {
        log.debug({ url: this.#commandsUrl, wait, attempt }, 'sending command');
        response = await this.#send('POST', query, { name, params }, signal);
      } catch (error) {
        if (!isIngotError(error, 'INGOT_AGENT_UNREACHABLE')) throw error;
        // The agent may have got the command and lost only the reply: adopt it if it is the last one and RUNNING.
        const adopted = await this.#adoptRunning(name, signal);
        if (adopted) {
          log.warn({ err: error, id: adopted.id }, 'reply lost; adopting the running command');
          return adopted;
        }
        if (attempt >= this.#maxAttempts) throw error;
        log.warn({ err: error, attempt }, 'agent unreachable; retrying command');
        continue;
      }
      if (response.status >= 400) {
        const error = httpError(response.status, response.body, name);
        if (/agent_token/.test(error.message)) log.warn('the agent mentions agent_token: it may predate tokens or hold another one');
        throw error;
      }
      return parseCommandResult(response.body);
    }
  }

  async #adoptRunning(name: string, signal?: AbortSignal): Promise<CommandResult | undefined> {
    try {
      const last = (await this.getCommandsStatus({ retry: false, signal })).at(-1);
      return last && bareCommandName(last.command_name) === bareCommandName(name) && last.command_status === 'RUNNING' ? last : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Polls `GET /v1/commands/` until the command (by id, else the last of that
   * short name) is no longer RUNNING, and returns it whatever its status.
   * Throws INGOT_AGENT_COMMAND_TIMEOUT when the attempts run out.
   */
  async waitForCommand(name: string, options: WaitForCommandOptions = {}): Promise<CommandResult> {
    const intervalMs = options.intervalMs ?? 6000;
    const attempts = options.timeoutMs !== undefined ? Math.max(1, Math.ceil(options.timeoutMs / intervalMs)) : options.attempts ?? 100;
    const bare = bareCommandName(name);
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const commands = await this.getCommandsStatus({ signal: options.signal });
      const found = options.id
        ? commands.find((command) => command.id === options.id)
        : commands.findLast((command) => bareCommandName(command.command_name) === bare);
      if (found && found.command_status !== 'RUNNING') return found;
      options.onProgress?.(found);
      if (attempt < attempts) await sleep(intervalMs, undefined, { signal: options.signal });
    }
    throw new IngotError('INGOT_AGENT_COMMAND_TIMEOUT', { details: `${bare} still running after ${attempts} polls every ${intervalMs} ms` });
  }

  /** `poll.get_hardware_info` (wait=true): the agent's inventory (disks with name and size among it), as IPA's poll extension returns it. */
  async getHardwareInfo({ signal }: { signal?: AbortSignal } = {}): Promise<Record<string, unknown>> {
    const result = expectSucceeded(await this.runCommand('poll.get_hardware_info', {}, { wait: true, signal }));
    return (result.command_result ?? {}) as Record<string, unknown>;
  }

  /**
   * `snapshot.capture` (wait=false), Ingot's extension: the agent reads the
   * disk and uploads it to `params.target`'s short-lived URLs. Returns the
   * command as the agent sent it (RUNNING); follow it with
   * {@link AgentClient.waitForSnapshot}.
   */
  captureSnapshot(params: SnapshotCaptureParams, { signal }: { signal?: AbortSignal } = {}): Promise<CommandResult> {
    return this.runCommand('snapshot.capture', params as unknown as Record<string, unknown>, { signal });
  }

  /** `snapshot.abort` (wait=true): stops a running capture, which then ends FAILED; throws the agent's error if it refused. */
  async abortSnapshot({ signal }: { signal?: AbortSignal } = {}): Promise<CommandResult> {
    return expectSucceeded(await this.runCommand('snapshot.abort', {}, { wait: true, signal }));
  }

  /**
   * Polls a capture started by {@link AgentClient.captureSnapshot} to its end
   * (`onProgress` gets each poll's command_progress, as a deploy's write does)
   * and returns its result; throws the agent's error (INGOT_SNAPSHOT_READ,
   * INGOT_SNAPSHOT_UPLOAD, …) when it failed, INGOT_AGENT_API_ERROR when the
   * result is not a snapshot's. Default: polls every 2 s for up to 6 hours.
   */
  async waitForSnapshot(started: CommandResult, options: Omit<WaitForCommandOptions, 'id'> = {}): Promise<SnapshotCaptureResult> {
    const final = started.command_status === 'RUNNING'
      ? await this.waitForCommand('snapshot.capture', { intervalMs: 2000, timeoutMs: 6 * 3600_000, ...options, id: started.id || undefined })
      : started;
    const result = expectSucceeded(final).command_result as Partial<SnapshotCaptureResult> | null;
    const invalid = (what: string) => new IngotError('INGOT_AGENT_API_ERROR', { details: `snapshot.capture's result ${what}` });
    if (!result || typeof result !== 'object') throw invalid('is empty');
    if (!Array.isArray(result.segments) || !['http_put', 'swift', 's3'].includes(String(result.target))) throw invalid('has no target type or segments list');
    try {
      parseSnapshotManifest(JSON.stringify(result.manifest ?? null), 'its manifest');
    } catch (error) {
      throw invalid(`holds no valid manifest (${isIngotError(error) ? error.details : String(error)})`);
    }
    return result as SnapshotCaptureResult;
  }

  /** `clean.get_clean_steps` (wait=true). Throws the agent's error if it failed. */
  async getCleanSteps(node: NodeInfo, ports: unknown[]): Promise<StepsReply> {
    return parseStepsReply(expectSucceeded(await this.runCommand('clean.get_clean_steps', { node, ports }, { wait: true })), 'clean');
  }

  /** `clean.execute_clean_step` (wait=false): usually answers RUNNING; poll with waitForCommand. */
  executeCleanStep(step: StepRequest, node: NodeInfo, ports: unknown[], cleanVersion: Record<string, string> | null): Promise<CommandResult> {
    return this.runCommand('clean.execute_clean_step', { step, node, ports, clean_version: cleanVersion });
  }

  /** `deploy.get_deploy_steps` (wait=true). */
  async getDeploySteps(node: NodeInfo, ports: unknown[]): Promise<StepsReply> {
    return parseStepsReply(expectSucceeded(await this.runCommand('deploy.get_deploy_steps', { node, ports }, { wait: true })), 'deploy');
  }

  /** `deploy.execute_deploy_step` (wait=false). */
  executeDeployStep(step: StepRequest, node: NodeInfo, ports: unknown[], deployVersion: Record<string, string> | null): Promise<CommandResult> {
    return this.runCommand('deploy.execute_deploy_step', { step, node, ports, deploy_version: deployVersion });
  }

  /** `standby.get_partition_uuids` (wait=true): `root uuid`, `efi system partition uuid`, … */
  async getPartitionUuids(): Promise<Record<string, unknown>> {
    const result = expectSucceeded(await this.runCommand('standby.get_partition_uuids', {}, { wait: true }));
    return (result.command_result ?? {}) as Record<string, unknown>;
  }

  /**
   * `image.install_bootloader` (wait=false), then polled until done; throws the
   * agent's error if it failed. On an HTTP error it retries once without
   * target_boot_mode for pre-6.0 agents, except for software RAID.
   */
  async installBootloader(params: InstallBootloaderParams, wait: Omit<WaitForCommandOptions, 'id'> = {}): Promise<CommandResult> {
    const body: Record<string, unknown> = {
      root_uuid: params.rootUuid, efi_system_part_uuid: params.efiSystemPartUuid ?? null,
      prep_boot_part_uuid: params.prepBootPartUuid ?? null, target_boot_mode: params.targetBootMode ?? 'uefi',
    };
    let started: CommandResult;
    try {
      started = await this.runCommand('image.install_bootloader', body);
    } catch (error) {
      if (!isIngotError(error, 'INGOT_AGENT_API_ERROR') || params.softwareRaid) throw error;
      this.#log.warn({ err: error }, 'install_bootloader refused; retrying without target_boot_mode for an older agent');
      const { target_boot_mode: _dropped, ...older } = body;
      started = await this.runCommand('image.install_bootloader', older);
    }
    if (started.command_status !== 'RUNNING') return expectSucceeded(started);
    return expectSucceeded(await this.waitForCommand('install_bootloader', { ...wait, id: started.id || undefined }));
  }

  /** `standby.power_off` (wait=false); the reply is not awaited further (the BMC tells). */
  powerOff(): Promise<CommandResult> {
    return this.runCommand('standby.power_off', {});
  }

  /** `standby.run_image` (wait=false): the agent reboots. */
  reboot(): Promise<CommandResult> {
    return this.runCommand('standby.run_image', {});
  }

  /** `standby.sync` (wait=true). */
  async sync(): Promise<CommandResult> {
    return expectSucceeded(await this.runCommand('standby.sync', {}, { wait: true }));
  }

  /** `log.collect_system_logs` (wait=true): base64 of a gzipped tarball. */
  async collectSystemLogs({ signal }: { signal?: AbortSignal } = {}): Promise<string> {
    const result = expectSucceeded(await this.runCommand('log.collect_system_logs', {}, { wait: true, signal }));
    const logs = (result.command_result as { system_logs?: unknown } | null)?.system_logs;
    if (typeof logs !== 'string') throw new IngotError('INGOT_AGENT_API_ERROR', { details: 'collect_system_logs returned no system_logs' });
    return logs;
  }

  /**
   * `rescue.finalize_rescue` (wait=false); the reply must be SUCCEEDED. Send
   * the hashed password (a crypt hash such as `$6$…`); the agent then stops
   * its API (see {@link AgentClient.waitUntilUnreachable}).
   */
  async finalizeRescue(rescuePassword: string, { hashed = true }: { hashed?: boolean } = {}): Promise<CommandResult> {
    // The plain form leaves `hashed` out, as Ironic's fallback does: agents before IPA 6.0 know no such parameter.
    const params = hashed ? { rescue_password: rescuePassword, hashed: true } : { rescue_password: rescuePassword };
    return expectSucceeded(await this.runCommand('rescue.finalize_rescue', params));
  }

  /**
   * `system.lockdown` (wait=false, as Ironic sends it after `standby.sync`);
   * the reply must be SUCCEEDED. The agent then stops its API and heartbeats
   * and, inside its ramdisk, takes the network down.
   */
  async lockdown(): Promise<CommandResult> {
    return expectSucceeded(await this.runCommand('system.lockdown', {}));
  }

  /**
   * Polls `GET /v1/commands/` until a connection to the agent fails, as Ironic
   * does after lockdown; resolves then. Throws INGOT_AGENT_COMMAND_TIMEOUT if
   * the agent still answers after `timeoutMs` (default 60000).
   */
  async waitUntilUnreachable({ intervalMs = 500, timeoutMs = 60_000, signal }: { intervalMs?: number; timeoutMs?: number; signal?: AbortSignal } = {}): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await this.getCommandsStatus({ retry: false, signal });
      } catch (error) {
        if (isIngotError(error, 'INGOT_AGENT_UNREACHABLE')) return;
        throw error;
      }
      if (Date.now() >= deadline) throw new IngotError('INGOT_AGENT_COMMAND_TIMEOUT', { details: `the agent at ${this.url} still answers ${timeoutMs} ms later; it did not stop its API` });
      await sleep(intervalMs, undefined, { signal });
    }
  }

  /**
   * `poll.set_node_info` (wait=true): hands a standalone agent (one without a
   * conductor URL) what a lookup would have returned. Other agents refuse it
   * with INGOT_INVALID_COMMAND.
   */
  async setNodeInfo(nodeInfo: { node: NodeInfo; config?: Record<string, unknown> }): Promise<CommandResult> {
    return expectSucceeded(await this.runCommand('poll.set_node_info', { node_info: nodeInfo }, { wait: true }));
  }

  /**
   * `standby.prepare_image` (wait=false): what conductors before Ironic's
   * deploy steps sent; poll with `waitForCommand('prepare_image')`.
   */
  prepareImage(imageInfo: Record<string, unknown>, configdrive?: string | null): Promise<CommandResult> {
    return this.runCommand('standby.prepare_image', { image_info: imageInfo, ...(configdrive === undefined ? {} : { configdrive }) });
  }

  /**
   * `standby.cache_image` (wait=false; Ingot's agent, and IPA before 10.0):
   * writes the image without a config drive and remembers it, so that a
   * later prepare_image or write_image of the same `image_info.id` skips the
   * write; `force` writes it again. Poll with `waitForCommand('cache_image')`.
   */
  cacheImage(imageInfo: Record<string, unknown>, { force = false }: { force?: boolean } = {}): Promise<CommandResult> {
    return this.runCommand('standby.cache_image', { image_info: imageInfo, force });
  }

  /** `service.get_service_steps` (wait=true). */
  async getServiceSteps(node: NodeInfo, ports: unknown[]): Promise<StepsReply> {
    return parseStepsReply(expectSucceeded(await this.runCommand('service.get_service_steps', { node, ports }, { wait: true })), 'service');
  }

  /** `service.execute_service_step` (wait=false): poll with `waitForCommand('execute_service_step')`. */
  executeServiceStep(step: StepRequest, node: NodeInfo, ports: unknown[], serviceVersion: Record<string, string> | null): Promise<CommandResult> {
    return this.runCommand('service.execute_service_step', { step, node, ports, service_version: serviceVersion });
  }
}
