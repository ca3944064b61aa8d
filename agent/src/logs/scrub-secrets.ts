/**
 * A second line of defence behind the logger's redaction: IPA's request log
 * writes the full query string, `agent_token` included, and those logs are
 * shipped to the conductor by `log.collect_system_logs` (reference 1.8).
 * Every text entry of the archive passes through here.
 */
const queryToken = /(agent_token=)[^\s&"'<>;,]+/g;
const jsonToken = /("agent_token"\s*:\s*")(?:[^"\\]|\\.)+(")/g;

export function scrubSecrets(text: string): string {
  return text.replace(queryToken, '$1***').replace(jsonToken, '$1***$2');
}
