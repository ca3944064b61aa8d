import { describe, expect, it } from 'vitest';
import {
  errorCodes, IngotError, isErrorCode, parseCommandError, parseFault, renderCommandError, renderFault, type ErrorCode,
} from './errors.ts';

/**
 * Every stable code with its wire type (IPA's exception class name, what
 * Ironic reads in command_error.type), its HTTP status and whether it is
 * retryable, written out here rather than read from the table: clients match
 * on these, so renaming a code or changing any of its values must fail this
 * test, and be done on purpose. A new code needs a line here too (the type
 * makes that a compile error).
 */
const stable: Record<ErrorCode, readonly [type: string, status: number, retryable: boolean]> = {
  INGOT_TOKEN_INVALID:            ['InvalidToken', 401, false],
  INGOT_BAD_REQUEST:              ['InvalidContentError', 400, false],
  INGOT_BODY_TOO_LARGE:           ['InvalidContentError', 413, false],
  INGOT_URL_INVALID:              ['InvalidContentError', 400, false],
  INGOT_BODY_ENCODING_UNSUPPORTED: ['InvalidContentError', 415, false],
  INGOT_REQUEST_TIMEOUT:          ['RequestTimeout', 408, true],
  INGOT_HEADERS_TOO_LARGE:        ['RequestHeaderFieldsTooLarge', 431, false],
  INGOT_INVALID_COMMAND:          ['InvalidCommandError', 400, false],
  INGOT_INVALID_PARAMS:           ['InvalidCommandParamsError', 400, false],
  INGOT_EXTENSION_NOT_FOUND:      ['RequestedObjectNotFoundError', 404, false],
  INGOT_COMMAND_NOT_FOUND:        ['RequestedObjectNotFoundError', 404, false],
  INGOT_NOT_FOUND:                ['NotFound', 404, false],
  INGOT_METHOD_NOT_ALLOWED:       ['MethodNotAllowed', 405, false],
  INGOT_AGENT_BUSY:               ['AgentIsBusy', 409, true],
  INGOT_VERSION_MISMATCH:         ['VersionMismatch', 409, false],
  INGOT_COMMAND_FAILED:           ['CommandExecutionError', 500, false],
  INGOT_CLEANING_FAILED:          ['CleaningError', 500, false],
  INGOT_DEPLOYMENT_FAILED:        ['DeploymentError', 500, false],
  INGOT_STEP_NOT_FOUND:           ['HardwareManagerMethodNotFound', 500, false],
  INGOT_DEVICE_NOT_ALLOWED:       ['ProtectedDeviceError', 403, false],
  INGOT_DEVICE_NOT_FOUND:         ['DeviceNotFound', 404, false],
  INGOT_ERASE_FAILED:             ['BlockDeviceEraseError', 500, false],
  INGOT_LOGS_FAILED:              ['CommandExecutionError', 500, false],
  INGOT_INTERNAL:                 ['CommandExecutionError', 500, false],
  INGOT_IMAGE_CHECKSUM:           ['ImageChecksumError', 500, false],
  INGOT_IMAGE_DOWNLOAD:           ['ImageDownloadError', 500, true],
  INGOT_IMAGE_FORMAT:             ['InvalidImage', 400, false],
  INGOT_IMAGE_TOO_LARGE:          ['ImageWriteError', 400, false],
  INGOT_IMAGE_STALLED:            ['ImageDownloadError', 500, true],
  INGOT_IMAGE_TIMEOUT:            ['ImageDownloadTimeoutError', 408, false],
  INGOT_IMAGE_WRITE:              ['ImageWriteError', 500, false],
  INGOT_IMAGE_READBACK:           ['ImageWriteError', 500, false],
  INGOT_IMAGE_NOT_FOUND:          ['ImageDownloadError', 404, false],
  INGOT_IMAGE_REQUEST_REFUSED:    ['ImageDownloadError', 400, false],
  INGOT_IMAGE_NO_SPACE:           ['ImageDownloadOutofSpaceError', 507, false],
  INGOT_IMAGE_CONVERT:            ['ImageWriteError', 500, false],
  INGOT_IMAGE_CHECKSUM_SPEC:      ['ImageDownloadError', 500, false],
  INGOT_CONFIGDRIVE_INVALID:      ['InstanceDeployFailure', 400, false],
  INGOT_BOOTLOADER_FAILED:        ['CommandExecutionError', 500, false],
  INGOT_BIOS_BOOTLOADER_DISABLED: ['InvalidImage', 400, false],
  INGOT_LOOKUP_FAILED:            ['LookupNodeError', 500, true],
  INGOT_LOOKUP_TOKEN_REFUSED:     ['LookupNodeError', 401, false],
  INGOT_HEARTBEAT_FAILED:         ['HeartbeatError', 500, true],
  INGOT_HEARTBEAT_TOKEN_REFUSED:  ['HeartbeatError', 400, false],
  INGOT_CONFIG_INVALID:           ['InvalidConfiguration', 400, false],
  INGOT_AGENT_UNREACHABLE:        ['AgentConnectionFailed', 503, true],
  INGOT_AGENT_API_ERROR:          ['AgentAPIError', 502, false],
  INGOT_AGENT_COMMAND_TIMEOUT:    ['AgentCommandTimeout', 504, true],
  INGOT_NODE_NOT_FOUND:           ['NodeNotFound', 404, false],
  INGOT_ADDRESS_NOT_ALLOWED:      ['AddressNotAllowed', 403, false],
  INGOT_HEARTBEAT_INVALID:        ['InvalidHeartbeat', 400, false],
  INGOT_HEARTBEAT_TOKEN_INVALID:  ['InvalidToken', 400, false],
  INGOT_CALLBACK_URL_INVALID:     ['InvalidCallbackUrl', 400, false],
  INGOT_CONDUCTOR_TIMEOUT:        ['ConductorTimeout', 504, true],
  INGOT_RAID_CONFIG_INVALID:      ['InvalidCommandParamsError', 400, false],
  INGOT_RAID_FAILED:              ['SoftwareRAIDError', 500, false],
  INGOT_LISTEN_FAILED:            ['ListenFailed', 503, true],
  INGOT_SNAPSHOT_READ:            ['SnapshotError', 500, false],
  INGOT_SNAPSHOT_UPLOAD:          ['SnapshotError', 500, true],
  INGOT_SNAPSHOT_MISMATCH:        ['InvalidImage', 400, false],
};

const codes = Object.keys(stable) as ErrorCode[];
/** The bytes a peer receives: what the wire carries, not the object we built. */
const overTheWire = <T>(body: T): unknown => JSON.parse(JSON.stringify(body));

describe('the stable error codes', () => {
  it('are exactly the codes of the table, none renamed, added or dropped without this test', () => {
    expect(Object.keys(errorCodes).sort()).toEqual([...codes].sort());
  });

  it.each(codes)('%s keeps its wire type, HTTP status and retryable flag', (code) => {
    const [type, status, retryable] = stable[code];
    expect(errorCodes[code]).toMatchObject({ type, status, retryable });
    const error = new IngotError(code);
    expect({ name: error.name, code: error.code, type: error.type, status: error.status, retryable: error.retryable })
      .toEqual({ name: 'IngotError', code, type, status, retryable });
    expect(isErrorCode(code)).toBe(true);
  });

  it('knows no code outside the table', () => {
    for (const value of ['INGOT_TOKEN_invalid', 'TOKEN_INVALID', 'toString', '__proto__', '', 42, null, undefined]) expect(isErrorCode(value), String(value)).toBe(false);
  });
});

describe('an HTTP fault on the wire (ipa-protocol.md 1.5)', () => {
  it.each(codes)('renders %s as faultcode, "<message>: <details>" and error_code, and the client reads it back as the same code', (code) => {
    const [, status, retryable] = stable[code];
    const { message } = errorCodes[code];
    const wire = overTheWire(renderFault(new IngotError(code, { details: 'on /dev/sdb' })));

    expect(wire).toEqual({ faultcode: status >= 500 ? 'Server' : 'Client', faultstring: `${message}: on /dev/sdb`, error_code: code });
    const parsed = parseFault(status, wire);
    expect({ code: parsed.code, status: parsed.status, retryable: parsed.retryable, details: parsed.details })
      .toEqual({ code, status, retryable, details: `${message}: on /dev/sdb` });
  });

  it('renders a fault without details as the bare message', () => {
    expect(renderFault(new IngotError('INGOT_TOKEN_INVALID'))).toEqual({ faultcode: 'Client', faultstring: 'Token invalid.', error_code: 'INGOT_TOKEN_INVALID' });
  });

  it('keeps a status replayed from the wire, and its faultcode follows that status', () => {
    const replayed = new IngotError('INGOT_AGENT_API_ERROR', { status: 400, details: 'x' });
    expect(renderFault(replayed)).toEqual({ faultcode: 'Client', faultstring: 'Agent API error: x', error_code: 'INGOT_AGENT_API_ERROR' });
    expect(parseFault(503, { faultcode: 'Server', faultstring: 'x', error_code: 'INGOT_AGENT_BUSY' })).toMatchObject({ code: 'INGOT_AGENT_BUSY', status: 503 });
  });

  it.each([
    ['a plain IPA fault', 400, { faultcode: 'Client', faultstring: 'Invalid command: Unknown command: x.y' }, 'INGOT_AGENT_API_ERROR'],
    ['IPA\'s busy fault (409)', 409, { faultcode: 'Client', faultstring: 'Agent is busy: executing command x' }, 'INGOT_AGENT_BUSY'],
    ['"agent is busy" under another status', 500, { faultcode: 'Server', faultstring: 'agent is busy' }, 'INGOT_AGENT_BUSY'],
    ['IPA\'s token fault', 401, { faultcode: 'Client', faultstring: '401 Unauthorized: Token invalid.' }, 'INGOT_TOKEN_INVALID'],
    ['an error_code this client does not know', 500, { faultcode: 'Server', faultstring: 'x', error_code: 'INGOT_FROM_THE_FUTURE' }, 'INGOT_AGENT_API_ERROR'],
    ['a body that is not a fault', 502, '<html>Bad Gateway</html>', 'INGOT_AGENT_API_ERROR'],
  ] as const)('reads %s from an agent without Ingot\'s code as Ironic would', (_what, status, body, code) => {
    expect(parseFault(status, body)).toMatchObject({ code, status });
  });
});

describe('a command_error on the wire (ipa-protocol.md 1.4)', () => {
  it.each(codes)('renders %s as {type, code, message, details} plus error_code, and the client reads it back as the same code', (code) => {
    const [type, status, retryable] = stable[code];
    const { message } = errorCodes[code];
    const wire = overTheWire(renderCommandError(new IngotError(code, { details: 'disk /dev/sdb is busy' })));

    expect(wire).toEqual({ type, code: status, message, details: 'disk /dev/sdb is busy', error_code: code });
    const parsed = parseCommandError(wire)!;
    expect({ code: parsed.code, status: parsed.status, retryable: parsed.retryable, details: parsed.details })
      .toEqual({ code, status, retryable, details: 'disk /dev/sdb is busy' });
  });

  it('puts the whole message in details when there are none, as Ironic shows details or else message', () => {
    expect(renderCommandError(new IngotError('INGOT_ERASE_FAILED'))).toEqual({
      type: 'BlockDeviceEraseError', code: 500, message: 'Error erasing block device', details: 'Error erasing block device', error_code: 'INGOT_ERASE_FAILED',
    });
  });

  it('reads an IPA command_error without Ingot\'s code as a failed command, keeping its code, and its details or else its message', () => {
    expect(parseCommandError({ type: 'InvalidCommandParamsError', code: 400, message: 'Invalid command parameters', details: 'image_info is required' }))
      .toMatchObject({ code: 'INGOT_COMMAND_FAILED', status: 400, details: 'image_info is required' });
    expect(parseCommandError({ type: 'TypeError', code: 500, message: 'unexpected keyword argument', details: '' }))
      .toMatchObject({ code: 'INGOT_COMMAND_FAILED', details: 'unexpected keyword argument' });
    expect(parseCommandError(null)).toBeUndefined();
  });
});
