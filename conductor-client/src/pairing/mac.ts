/**
 * MAC address normalisation. Ironic accepts any syntax netaddr understands on
 * lookup and ignores invalid entries (ironic-conductor.md §2); these are the
 * common ones: colon, dash, Cisco dotted, and bare hex.
 */
const SEPARATED = /^([0-9a-f]{1,2})([:-])([0-9a-f]{1,2})\2([0-9a-f]{1,2})\2([0-9a-f]{1,2})\2([0-9a-f]{1,2})\2([0-9a-f]{1,2})$/i;
const DOTTED = /^([0-9a-f]{4})\.([0-9a-f]{4})\.([0-9a-f]{4})$/i;
const BARE = /^[0-9a-f]{12}$/i;

/** Returns `aa:bb:cc:dd:ee:ff`, or undefined when the text is not a MAC address. */
export function normaliseMac(raw: string): string | undefined {
  const text = raw.trim();
  let hex: string | undefined;
  const separated = SEPARATED.exec(text);
  if (separated) {
    hex = [1, 3, 4, 5, 6, 7].map((i) => (separated[i] ?? '').padStart(2, '0')).join('');
  } else if (DOTTED.test(text)) {
    hex = text.replaceAll('.', '');
  } else if (BARE.test(text)) {
    hex = text;
  }
  if (!hex) return undefined;
  return hex.toLowerCase().match(/../g)!.join(':');
}
