/**
 * A write at an offset may take fewer bytes than asked (a signal, a full
 * quota, a device's own limit); the rest must follow at the right offset, and
 * a write that takes nothing must fail rather than spin. The one loop that
 * does this, for every positional write the real System makes, with or
 * without O_DIRECT, asynchronous or (for the staging file) not.
 */
export type PositionalWrite<T> = (data: Uint8Array, offset: number, length: number, position: number) => T;

export async function writeFully(write: PositionalWrite<Promise<{ bytesWritten: number }>>, data: Uint8Array, position: number): Promise<void> {
  for (let done = 0; done < data.byteLength;) done += taken((await write(data, done, data.byteLength - done, position + done)).bytesWritten, position + done);
}

export function writeFullySync(write: PositionalWrite<number>, data: Uint8Array, position: number): void {
  for (let done = 0; done < data.byteLength;) done += taken(write(data, done, data.byteLength - done, position + done), position + done);
}

function taken(bytesWritten: number, at: number): number {
  if (bytesWritten <= 0) throw new Error(`short write at offset ${at}: nothing was written`);
  return bytesWritten;
}
