/**
 * Renders `parameters.txt` as the agent reads it (whitespace-separated
 * key=value words, `#` comment lines; reference 10.3). Values cannot carry
 * whitespace, so they are refused rather than silently split.
 */
export function renderParameters(params: Record<string, string>, header?: string): string {
  const lines = header ? header.split('\n').map((line) => `# ${line}`) : [];
  for (const [key, value] of Object.entries(params)) {
    if (!key || /[\s=#]/.test(key)) throw new Error(`parameter name "${key}" is empty or holds whitespace, "=" or "#"`);
    if (/\s/.test(value)) throw new Error(`parameter ${key}: its value holds whitespace, which parameters.txt cannot carry`);
    lines.push(`${key}=${value}`);
  }
  return `${lines.join('\n')}\n`;
}
