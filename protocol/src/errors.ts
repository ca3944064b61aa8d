/**
 * Ingot's stable error codes, declared once. A code is never renamed: clients
 * match on it. `type` is the IPA exception class name that the wire carries in
 * `command_error.type` (Ironic reads `type`, `message` and `details`), `status`
 * is the HTTP status (or the `code` of a command error), and `retryable` tells
 * a caller whether the same request may succeed later unchanged.
 */
export const errorCodes = {
  INGOT_TOKEN_INVALID: { type: 'InvalidToken', status: 401, retryable: false, message: 'Token invalid.' },
  INGOT_BAD_REQUEST: { type: 'InvalidContentError', status: 400, retryable: false, message: 'Bad Request' },
  INGOT_BODY_TOO_LARGE: { type: 'InvalidContentError', status: 413, retryable: false, message: 'Request body too large' },
  // Requests the agent's HTTP server refuses before any route sees them (agent/src/api, agent/src/serving).
  INGOT_URL_INVALID: { type: 'InvalidContentError', status: 400, retryable: false, message: 'Malformed request URL' },
  INGOT_BODY_ENCODING_UNSUPPORTED: { type: 'InvalidContentError', status: 415, retryable: false, message: 'Unsupported request body encoding' },
  INGOT_REQUEST_TIMEOUT: { type: 'RequestTimeout', status: 408, retryable: true, message: 'Request not received in time' },
  INGOT_HEADERS_TOO_LARGE: { type: 'RequestHeaderFieldsTooLarge', status: 431, retryable: false, message: 'Request headers too large' },
  INGOT_INVALID_COMMAND: { type: 'InvalidCommandError', status: 400, retryable: false, message: 'Invalid command' },
  INGOT_INVALID_PARAMS: { type: 'InvalidCommandParamsError', status: 400, retryable: false, message: 'Invalid command parameters' },
  INGOT_EXTENSION_NOT_FOUND: { type: 'RequestedObjectNotFoundError', status: 404, retryable: false, message: 'Not found' },
  INGOT_COMMAND_NOT_FOUND: { type: 'RequestedObjectNotFoundError', status: 404, retryable: false, message: 'Not found' },
  INGOT_NOT_FOUND: { type: 'NotFound', status: 404, retryable: false, message: 'Not Found' },
  INGOT_METHOD_NOT_ALLOWED: { type: 'MethodNotAllowed', status: 405, retryable: false, message: 'Method Not Allowed' },
  INGOT_AGENT_BUSY: { type: 'AgentIsBusy', status: 409, retryable: true, message: 'Agent is busy' },
  INGOT_VERSION_MISMATCH: { type: 'VersionMismatch', status: 409, retryable: false, message: 'Hardware managers version mismatch' },
  INGOT_COMMAND_FAILED: { type: 'CommandExecutionError', status: 500, retryable: false, message: 'Command execution failed' },
  INGOT_CLEANING_FAILED: { type: 'CleaningError', status: 500, retryable: false, message: 'Clean step failed' },
  INGOT_DEPLOYMENT_FAILED: { type: 'DeploymentError', status: 500, retryable: false, message: 'Deploy step failed' },
  INGOT_STEP_NOT_FOUND: { type: 'HardwareManagerMethodNotFound', status: 500, retryable: false, message: 'No HardwareManager found to handle method' },
  INGOT_DEVICE_NOT_ALLOWED: { type: 'ProtectedDeviceError', status: 403, retryable: false, message: 'Device is not one this agent may touch' },
  INGOT_DEVICE_NOT_FOUND: { type: 'DeviceNotFound', status: 404, retryable: false, message: 'Device not found' },
  INGOT_ERASE_FAILED: { type: 'BlockDeviceEraseError', status: 500, retryable: false, message: 'Error erasing block device' },
  INGOT_LOGS_FAILED: { type: 'CommandExecutionError', status: 500, retryable: false, message: 'Collecting system logs failed' },
  INGOT_INTERNAL: { type: 'CommandExecutionError', status: 500, retryable: false, message: 'Internal error' },
  // Image writing (agent/src/image/pipeline).
  INGOT_IMAGE_CHECKSUM: { type: 'ImageChecksumError', status: 500, retryable: false, message: 'Image checksum mismatch' },
  INGOT_IMAGE_DOWNLOAD: { type: 'ImageDownloadError', status: 500, retryable: true, message: 'Image download failed' },
  INGOT_IMAGE_FORMAT: { type: 'InvalidImage', status: 400, retryable: false, message: 'Image format not supported or corrupt' },
  INGOT_IMAGE_TOO_LARGE: { type: 'ImageWriteError', status: 400, retryable: false, message: 'Image larger than the target' },
  INGOT_IMAGE_STALLED: { type: 'ImageDownloadError', status: 500, retryable: true, message: 'Image download stalled' },
  INGOT_IMAGE_TIMEOUT: { type: 'ImageDownloadTimeoutError', status: 408, retryable: false, message: 'Image download took longer than allowed' },
  INGOT_IMAGE_WRITE: { type: 'ImageWriteError', status: 500, retryable: false, message: 'Writing the image failed' },
  INGOT_IMAGE_READBACK: { type: 'ImageWriteError', status: 500, retryable: false, message: 'Read-back verification of the written image failed' },
  INGOT_IMAGE_NOT_FOUND: { type: 'ImageDownloadError', status: 404, retryable: false, message: 'Image not found on the image server' },
  INGOT_IMAGE_REQUEST_REFUSED: { type: 'ImageDownloadError', status: 400, retryable: false, message: 'The image server refused the request' },
  INGOT_IMAGE_NO_SPACE: { type: 'ImageDownloadOutofSpaceError', status: 507, retryable: false, message: 'Not enough space to stage the image' },
  INGOT_IMAGE_CONVERT: { type: 'ImageWriteError', status: 500, retryable: false, message: 'Converting the image onto the disk failed' },
  // Image parameters (agent/src/image).
  INGOT_IMAGE_CHECKSUM_SPEC: { type: 'ImageDownloadError', status: 500, retryable: false, message: 'Image checksum could not be determined' },
  INGOT_CONFIGDRIVE_INVALID: { type: 'InstanceDeployFailure', status: 400, retryable: false, message: 'Invalid config drive' },
  // image.install_bootloader (agent/src/bootloader).
  INGOT_BOOTLOADER_FAILED: { type: 'CommandExecutionError', status: 500, retryable: false, message: 'Installing the bootloader failed' },
  INGOT_BIOS_BOOTLOADER_DISABLED: { type: 'InvalidImage', status: 400, retryable: false, message: 'Legacy BIOS bootloader installation is disabled' },
  // Agent as a client of the conductor.
  INGOT_LOOKUP_FAILED: { type: 'LookupNodeError', status: 500, retryable: true, message: 'Lookup of the node failed' },
  INGOT_LOOKUP_TOKEN_REFUSED: { type: 'LookupNodeError', status: 401, retryable: false, message: 'The conductor withheld the token and none is held' },
  INGOT_HEARTBEAT_FAILED: { type: 'HeartbeatError', status: 500, retryable: true, message: 'Heartbeat failed' },
  INGOT_HEARTBEAT_TOKEN_REFUSED: { type: 'HeartbeatError', status: 400, retryable: false, message: 'Heartbeat token refused' },
  INGOT_CONFIG_INVALID: { type: 'InvalidConfiguration', status: 400, retryable: false, message: 'Invalid configuration' },
  // Conductor side.
  INGOT_AGENT_UNREACHABLE: { type: 'AgentConnectionFailed', status: 503, retryable: true, message: 'Agent unreachable' },
  INGOT_AGENT_API_ERROR: { type: 'AgentAPIError', status: 502, retryable: false, message: 'Agent API error' },
  INGOT_AGENT_COMMAND_TIMEOUT: { type: 'AgentCommandTimeout', status: 504, retryable: true, message: 'Agent command did not finish in time' },
  INGOT_NODE_NOT_FOUND: { type: 'NodeNotFound', status: 404, retryable: false, message: 'Resource could not be found.' },
  INGOT_ADDRESS_NOT_ALLOWED: { type: 'AddressNotAllowed', status: 403, retryable: false, message: 'Request from an address not allowed for this node' },
  INGOT_HEARTBEAT_INVALID: { type: 'InvalidHeartbeat', status: 400, retryable: false, message: 'Invalid heartbeat' },
  INGOT_HEARTBEAT_TOKEN_INVALID: { type: 'InvalidToken', status: 400, retryable: false, message: 'Invalid or missing agent token received.' },
  INGOT_CALLBACK_URL_INVALID: { type: 'InvalidCallbackUrl', status: 400, retryable: false, message: 'Invalid callback_url' },
  // The reference conductor's --timeout: no lookup, heartbeat or end of the run in time.
  INGOT_CONDUCTOR_TIMEOUT: { type: 'ConductorTimeout', status: 504, retryable: true, message: 'Timed out' },
  // The agent cannot bind its API's address (taken port, address not on this machine); it exits before any lookup.
  // A target_raid_config the agent refuses before touching any disk (agent/src/raid/); the details name the volume and the reason.
  INGOT_RAID_CONFIG_INVALID: { type: 'InvalidCommandParamsError', status: 400, retryable: false, message: 'Invalid RAID configuration' },
  // Building or removing software RAID failed on the disks (IPA's SoftwareRAIDError); the details say what was undone.
  INGOT_RAID_FAILED: { type: 'SoftwareRAIDError', status: 500, retryable: false, message: 'Software RAID operation failed' },
  INGOT_LISTEN_FAILED: { type: 'ListenFailed', status: 503, retryable: true, message: 'Cannot serve the agent API' },
  // Snapshots (protocol/src/snapshot.ts): reading the source disk failed (the details name the device and offset).
  INGOT_SNAPSHOT_READ: { type: 'SnapshotError', status: 500, retryable: false, message: 'Reading the disk for a snapshot failed' },
  // A segment (or the one PUT) could not be stored after its retries; the details name the segment and what the store said.
  INGOT_SNAPSHOT_UPLOAD: { type: 'SnapshotError', status: 500, retryable: true, message: 'Uploading the snapshot failed' },
  // A snapshot deployed back disagrees with its manifest (size, frames, digest); refused before a byte is written where it can be seen first.
  INGOT_SNAPSHOT_MISMATCH: { type: 'InvalidImage', status: 400, retryable: false, message: 'The snapshot does not match its manifest' },
} as const satisfies Record<string, { type: string; status: number; retryable: boolean; message: string }>;

export type ErrorCode = keyof typeof errorCodes;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(errorCodes, value);
}

export interface IngotErrorOptions {
  /** Free text that says what failed, on which device or URL, and what to do. */
  details?: string;
  cause?: unknown;
  /** Overrides the table's status, e.g. to replay a status seen on the wire. */
  status?: number;
}

/**
 * The root error of Ingot. `message` is the table's short message plus the
 * details, as IPA's RESTError renders `"<message>: <details>"`.
 */
export class IngotError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  readonly type: string;
  readonly details: string;

  constructor(code: ErrorCode, options: IngotErrorOptions = {}) {
    const entry = errorCodes[code];
    const details = options.details ?? '';
    super(details ? `${entry.message}: ${details}` : entry.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'IngotError';
    this.code = code;
    this.status = options.status ?? entry.status;
    this.retryable = entry.retryable;
    this.type = entry.type;
    this.details = details;
  }
}

export function isIngotError(error: unknown, code?: ErrorCode): error is IngotError {
  return error instanceof IngotError && (code === undefined || error.code === code);
}

/** HTTP-level error body, as IPA renders it (WSME style), plus Ingot's code. */
export interface FaultBody {
  faultcode: 'Client' | 'Server';
  faultstring: string;
  /** Ingot extension: the stable error code. */
  error_code?: ErrorCode;
}

export function renderFault(error: IngotError): FaultBody {
  return { faultcode: error.status >= 500 ? 'Server' : 'Client', faultstring: error.message, error_code: error.code };
}

/** `command_error` as IPA serializes a RESTError, plus Ingot's stable code. */
export interface CommandErrorBody {
  type: string;
  code: number;
  message: string;
  details: string;
  /** Ingot extension: the stable error code. */
  error_code?: ErrorCode;
}

export function renderCommandError(error: IngotError): CommandErrorBody {
  return {
    type: error.type,
    code: error.status,
    message: errorCodes[error.code].message,
    details: error.details || error.message,
    error_code: error.code,
  };
}

/** Wraps anything thrown into an IngotError, keeping it as the cause. */
export function toIngotError(error: unknown, code: ErrorCode = 'INGOT_INTERNAL'): IngotError {
  if (error instanceof IngotError) return error;
  const details = error instanceof Error ? error.message : String(error);
  return new IngotError(code, { details, cause: error });
}

/** Maps an HTTP error body from an agent back to an IngotError (for clients). */
export function parseFault(status: number, body: unknown): IngotError {
  const record = body !== null && typeof body === 'object' ? body as Record<string, unknown> : {};
  const faultstring = typeof record.faultstring === 'string' ? record.faultstring : JSON.stringify(body);
  let code: ErrorCode = isErrorCode(record.error_code) ? record.error_code : 'INGOT_AGENT_API_ERROR';
  // IPA-compatible agents without Ingot's codes: Ironic's own mapping (409 or "agent is busy").
  if (!isErrorCode(record.error_code) && (status === 409 || /agent is busy/i.test(faultstring))) code = 'INGOT_AGENT_BUSY';
  if (!isErrorCode(record.error_code) && status === 401) code = 'INGOT_TOKEN_INVALID';
  const error = new IngotError(code, { details: faultstring, status });
  return error;
}

/** Maps a command_error from the wire back to an IngotError (for clients). */
export function parseCommandError(body: unknown): IngotError | undefined {
  if (body === null || typeof body !== 'object') return undefined;
  const record = body as Record<string, unknown>;
  const code = isErrorCode(record.error_code) ? record.error_code : 'INGOT_COMMAND_FAILED';
  const details = typeof record.details === 'string' && record.details ? record.details
    : typeof record.message === 'string' ? record.message : JSON.stringify(body);
  return new IngotError(code, { details, status: typeof record.code === 'number' ? record.code : undefined });
}
