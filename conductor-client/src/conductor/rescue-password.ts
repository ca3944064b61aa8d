import { IngotError } from '@ingot/protocol';

/**
 * The rescue password from a file's text: its first line, without the line
 * end. Empty is refused: a rescue user without a password could not log in
 * (or could, without one). The password itself never appears in the error.
 */
export function readRescuePassword(text: string, source: string): string {
  const password = text.split(/\r?\n/, 1)[0] ?? '';
  if (password.length === 0) throw new IngotError('INGOT_CONFIG_INVALID', { details: `${source}: the rescue password file's first line is empty; write the password on it` });
  return password;
}
