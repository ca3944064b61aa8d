/** The agent's public surface, for embedders, the ramdisk build and the cross-package tests. */
export { AGENT_VERSION, createAgent, type Agent, type AgentDeps, type AgentPhase } from './agent.ts';
export { parseKernelCmdline, resolveConfig, settings, type AgentConfig } from './config.ts';
export { createLogger, redactUrl } from './log.ts';
export type { System, RunOptions, RunResult } from './system/system.ts';
export { ToolError } from './system/system.ts';
export { createRealSystem } from './system/real-system.ts';
export { createDeviceGuard, type DeviceGuard } from './system/device-guard.ts';
export type { BlockDevice, BlockDevices, Partition } from './disks/block-devices.ts';
export { createBlockDevices } from './disks/create-block-devices.ts';
export { NOT_SUPPORTED, SupportLevel, type HardwareManager, type StepContext, type StepDefinition } from './hardware/manager.ts';
export { createGenericManager } from './hardware/generic-manager.ts';
export { eraseDeviceMetadata, eraseDevicesMetadata, type EraseContext } from './hardware/erase-metadata.ts';
export { createMachineFileInventory } from './inventory/machine-file-inventory.ts';
export { createHostInventory } from './inventory/host-inventory.ts';
export type { Inventory, InventorySource } from './inventory/inventory.ts';
export { collectSystemLogs } from './logs/collect-system-logs.ts';
export { createRamdiskPower, createSimulatedPower, type PowerControl } from './power/power-control.ts';
export { writeImage } from './image/pipeline/index.ts';
