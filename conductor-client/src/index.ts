/**
 * @ingot/conductor-client: what a conductor embeds to pair with IPA-compatible
 * agents (lookup, heartbeat, one-time tokens, address allow-lists) and to
 * drive them (a command client with pinned TLS and Ironic's retry rules).
 *
 * @packageDocumentation
 */
export { createPairing } from './pairing/pairing.ts';
export type { HeartbeatContext, HeartbeatEvent, LookupRequest, Pairing, PairingOptions } from './pairing/pairing.ts';
export { createPairingRouter, renderIronicError, MIN_API_VERSION, MAX_API_VERSION } from './pairing/router.ts';
export type { PairingRouterOptions } from './pairing/router.ts';
export { createMemoryNodeStore, createNodeRecord } from './pairing/node-store.ts';
export type { NodeMutation, NodeRecord, NodeStore } from './pairing/node-store.ts';
export { parseAddressFilter, normaliseIpAddress } from './pairing/address-filter.ts';
export type { AddressFilter } from './pairing/address-filter.ts';
export { generateAgentToken, hashAgentToken, verifyAgentToken, MIN_TOKEN_LENGTH } from './pairing/token.ts';
export type { GeneratedToken } from './pairing/token.ts';
export { parseCallbackUrl } from './pairing/callback-url.ts';
export { normaliseMac } from './pairing/mac.ts';
export { AgentClient } from './agent-client.ts';
export type { AgentClientOptions, InstallBootloaderParams, WaitForCommandOptions } from './agent-client.ts';
export { AgentBusyError, bareCommandName, commandError, expectSucceeded } from './agent-results.ts';
export type { StepsReply } from './agent-results.ts';
export { redactUrl } from '@ingot/protocol';
