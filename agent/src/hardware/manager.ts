import type { Logger } from 'pino';
import type { CommandProgress, NodeInfo, StepDescription, StepKind } from '@ingot/protocol';
import type { System } from '../system/system.ts';
import type { BlockDevices } from '../disks/block-devices.ts';

/** Support levels of IPA (5.1). Third parties may return higher numbers. */
export const SupportLevel = { NONE: 0, GENERIC: 1, MAINLINE: 2, SERVICE_PROVIDER: 3 } as const;

/** What a step or a manager's support evaluation receives. */
export interface HardwareContext {
  system: System;
  devices: BlockDevices;
  log: Logger;
}

/** What a step's validation receives: the hardware and the node of the request. */
export interface ValidateContext extends HardwareContext {
  node: NodeInfo;
}

export interface StepContext extends HardwareContext {
  node: NodeInfo;
  ports: unknown[];
  signal: AbortSignal;
  /** Reports progress into the running command's status and the log (rate-limited by the caller). */
  progress(progress: CommandProgress): void;
}

/** Returned by a step that cannot act on this hardware, so the next manager may (IPA's IncompatibleHardwareMethodError). */
export const NOT_SUPPORTED: unique symbol = Symbol('ingot.step.not-supported');
export type StepOutcome = unknown | typeof NOT_SUPPORTED;

export interface StepDefinition {
  name: string;
  kind: StepKind;
  priority: number;
  /** The Ironic interface the step belongs to: deploy, raid, bios, management... */
  interface: string;
  abortable: boolean;
  rebootRequested: boolean;
  argsinfo?: Record<string, { description: string; required: boolean }>;
  /**
   * Runs in the execute_*_step request, before the command starts: throws an
   * InvalidCommandParamsError code (400) for arguments or a node the step
   * cannot act on. It may read the disks; it must not change anything.
   */
  validate?(ctx: ValidateContext, args: Record<string, unknown>): void | Promise<void>;
  run(ctx: StepContext, args: Record<string, unknown>): Promise<StepOutcome>;
}

export interface HardwareManager {
  /** The name Ironic sees as the key of get_*_steps and hardware_manager_version. */
  name: string;
  version: string;
  evaluateSupport(ctx: HardwareContext): number | Promise<number>;
  initialize?(ctx: HardwareContext): Promise<void>;
  steps: readonly StepDefinition[];
}

/** A manager with its evaluated support level, as the registry holds it. */
export interface ActiveManager {
  manager: HardwareManager;
  support: number;
}

export function describeStep(step: StepDefinition): StepDescription {
  const description: StepDescription = {
    step: step.name,
    priority: step.priority,
    interface: step.interface,
    reboot_requested: step.rebootRequested,
    argsinfo: step.argsinfo ?? null,
  };
  // IPA omits `abortable` from deploy steps (5.6).
  if (step.kind !== 'deploy') description.abortable = step.abortable;
  return description;
}
