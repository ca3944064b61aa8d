/**
 * oslo strutils.bool_from_string(strict=True): the only spellings Ironic's
 * booleans arrive in (image_info, root device hints, node capabilities).
 * Anything else is `undefined`, for the caller to refuse with its own field name.
 */
export function parseStrictBool(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  // oslo renders any other value with str(): ["true"] is "['true']", never a boolean. String() would read
  // ["true"] as "true", and a list nested thousands deep overflows the stack in it (found by fuzzing).
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  const text = String(value).trim().toLowerCase();
  if (['1', 't', 'true', 'on', 'y', 'yes'].includes(text)) return true;
  if (['0', 'f', 'false', 'off', 'n', 'no'].includes(text)) return false;
  return undefined;
}
