import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { isIngotError, REDACTED_TOKEN, type LookupResponse } from '@ingot/protocol';
import { createSession } from './session.ts';

const log = pino({ level: 'silent' });
const token = 'a'.repeat(43);
const lookup = (config: Record<string, unknown>, uuid = 'node-1'): LookupResponse => ({ node: { uuid }, config } as LookupResponse);

describe('the agent session', () => {
  it('takes the node, the token and the config switches from a lookup', () => {
    const session = createSession({ log });
    session.applyLookup(lookup({ agent_token: token, agent_md5_checksum_enable: true, enable_bios_bootloader_install: true }));
    expect(session.node?.uuid).toBe('node-1');
    expect(session.token).toBe(token);
    expect(session.md5Allowed).toBe(true);
    expect(session.biosBootloaderAllowed).toBe(true);
  });

  it('keeps a held token when the conductor withholds it, and refuses to go on when it holds none', () => {
    const preset = 'p'.repeat(43);
    const held = createSession({ presetToken: preset, log });
    held.applyLookup(lookup({ agent_token: REDACTED_TOKEN }));
    expect(held.token).toBe(preset);
    const empty = createSession({ log });
    let error: unknown;
    try {
      empty.applyLookup(lookup({ agent_token: REDACTED_TOKEN }));
    } catch (caught) {
      error = caught;
    }
    expect(isIngotError(error, 'INGOT_LOOKUP_TOKEN_REFUSED')).toBe(true);
  });

  it('ignores a token shorter than 32 characters', () => {
    const session = createSession({ log });
    session.applyLookup(lookup({ agent_token: 'short' }));
    expect(session.token).toBeUndefined();
  });

  it('forgets the token, node and partition UUIDs but keeps a pre-set token, and remembers a power action', () => {
    const preset = 'p'.repeat(43);
    let now = 1000;
    const session = createSession({ presetToken: preset, log, now: () => now });
    session.applyLookup(lookup({ agent_token: token }));
    session.recordPartitionUuids({ 'root uuid': '0x1234' });
    session.forget();
    expect([session.token, session.node, session.partitionUuids, session.powerActionAt]).toEqual([preset, undefined, {}, undefined]);
    now = 5000;
    session.forget({ afterPowerAction: true });
    expect(session.powerActionAt).toBe(5000);
    session.applyLookup(lookup({ agent_token: token }));
    expect(session.powerActionAt).toBeUndefined();
  });

  it('builds the heartbeat from what it holds, and only once the API listens', () => {
    const session = createSession({ log });
    expect(() => session.heartbeatBody('1.0')).toThrow(/before the API listens/);
    session.applyLookup(lookup({ agent_token: token }));
    session.setListening({ callbackUrl: 'https://192.0.2.5:9999', verifyCa: 'PEM' });
    expect(session.heartbeatBody('1.0')).toEqual({ callback_url: 'https://192.0.2.5:9999', agent_token: token, agent_version: '1.0', agent_verify_ca: 'PEM' });
    session.setListening({ callbackUrl: 'http://192.0.2.5:9999', verifyCa: undefined });
    expect(session.heartbeatBody('1.0')).not.toHaveProperty('agent_verify_ca');
  });

  it('remembers the image cache_image wrote until told otherwise or until it starts over', () => {
    const session = createSession({ log });
    expect(session.cachedImage).toBeUndefined();
    session.recordCachedImage({ id: 'img', device: '/dev/sda' });
    expect(session.cachedImage).toEqual({ id: 'img', device: '/dev/sda' });
    session.recordCachedImage(undefined);
    expect(session.cachedImage).toBeUndefined();
    session.recordCachedImage({ id: 'img', device: '/dev/sda' });
    session.forget();
    expect(session.cachedImage).toBeUndefined();
  });
});
