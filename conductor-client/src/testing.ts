/**
 * Fakes for users' tests (the package's `./testing` entry): a real agent API
 * on 127.0.0.1 that records what it receives, the agent's side of pairing,
 * and throw-away TLS certificates.
 *
 * @packageDocumentation
 */
export { createFakeAgentServer } from './testing/fake-agent-server.ts';
export type { FakeAgentOptions, FakeAgentServer, FakeCommandContext, FakeCommandHandler, RecordedAgentRequest } from './testing/fake-agent-server.ts';
export { FAKE_DISK, FAKE_DISK_IDENTIFIER, FAKE_MANAGER } from './testing/fake-agent-handlers.ts';
export { pairFakeAgent } from './testing/fake-agent-pairing.ts';
export { fakeSnapshotCapture, fakeSnapshotManifest, fakeSnapshotResult } from './testing/fake-snapshot.ts';
export type { FakeAgentPairing, PairFakeAgentOptions } from './testing/fake-agent-pairing.ts';
export { createTestCertificate } from './testing/test-certificate.ts';
export type { TestCertificate } from './testing/test-certificate.ts';
