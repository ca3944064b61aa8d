import type { CommandProgress, StepDescription } from '@ingot/protocol';

/** What the fake agent server and its default handlers share (fake-agent-server.ts). */
export interface FakeCommandContext {
  /** Sets the Ingot `command_progress` seen by pollers. */
  setProgress(progress: CommandProgress): void;
}

/** Runs one command; its return value becomes `command_result`, a throw makes it FAILED. */
export type FakeCommandHandler = (params: Record<string, unknown>, context: FakeCommandContext) => unknown;

export interface FakeAgentOptions {
  /** The token the agent holds; without one every command call gets 401, as in IPA. */
  token?: string;
  /** Serve HTTPS with this certificate and key. */
  tls?: { cert: string; key: string };
  port?: number;
  /** Steps answered by get_clean_steps (default: erase_devices_metadata 99, erase_devices 0). */
  steps?: StepDescription[];
  /** Steps answered by get_deploy_steps (default: write_image 0, erase_devices_metadata 0). */
  deploySteps?: StepDescription[];
  /** Size of the image the simulated write_image step reports writing. Default 64 MiB. */
  imageBytes?: number;
  /** Progress samples write_image goes through (over stepDurationMs). Default 4. */
  imageChunks?: number;
  hardwareManagerVersion?: Record<string, string>;
  /** How long each execute_*_step takes, in ms. Default 20. */
  stepDurationMs?: number;
  /** Handlers by dotted name, overriding the defaults. */
  handlers?: Record<string, FakeCommandHandler>;
  /**
   * Checks run in the request before a command starts, by dotted name; a
   * throw is answered as an HTTP fault (an IngotError's status, else 400),
   * as the real agent's validators are. Merged over the defaults.
   */
  validators?: Record<string, (params: Record<string, unknown>) => void>;
  /** Steps answered by get_service_steps (default: write_image 0). */
  serviceSteps?: StepDescription[];
  /**
   * Commands after whose SUCCEEDED reply the fake stops serving, as the real
   * agent does (default: rescue.finalize_rescue and system.lockdown); new
   * connections are then refused.
   */
  stopsAfter?: readonly string[];
  /** Answer finalize_rescue like an agent before IPA 6.0: a `hashed` parameter is refused. Default false. */
  legacyRescue?: boolean;
}
