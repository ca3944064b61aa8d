import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { SYSTEM_PYTHON } from './ironic-server.ts';

const execFileAsync = promisify(execFile);

/**
 * Ironic masks the agent token everywhere it can be read: the API shows
 * "******" and its log "***" (ironic-conductor.md §2, §3). To prove the
 * agent never logs the real token, a trigger in Ironic's own SQLite file
 * copies every token the conductor stores (into
 * `driver_internal_info.agent_secret_token`) to a side table, so the test
 * can search the agent's log for the exact strings afterwards. Ironic never
 * reads that table. Python's sqlite3 is used because Node 20 has no SQLite.
 */
const INSTALL_SQL = `
CREATE TABLE IF NOT EXISTS ingot_agent_tokens (token TEXT PRIMARY KEY, seen_at TEXT);
CREATE TRIGGER IF NOT EXISTS ingot_agent_tokens_on_update AFTER UPDATE ON nodes
WHEN json_valid(NEW.driver_internal_info)
  AND json_extract(NEW.driver_internal_info, '$.agent_secret_token') IS NOT NULL
BEGIN
  INSERT OR IGNORE INTO ingot_agent_tokens (token, seen_at)
  VALUES (json_extract(NEW.driver_internal_info, '$.agent_secret_token'), datetime('now'));
END;
`;

async function runSqlite(databasePath: string, script: string): Promise<string> {
  const python = [
    'import json, sqlite3, sys',
    'db = sqlite3.connect(sys.argv[1], timeout=30)',
    'mode, sql = sys.argv[2], sys.argv[3]',
    'if mode == "script":',
    '    db.executescript(sql); db.commit(); print("[]")',
    'else:',
    '    print(json.dumps([row[0] for row in db.execute(sql)]))',
  ].join('\n');
  const mode = script.trimStart().toUpperCase().startsWith('SELECT') ? 'query' : 'script';
  const { stdout } = await execFileAsync(SYSTEM_PYTHON, ['-c', python, databasePath, mode, script], { timeout: 30_000 });
  return stdout;
}

/** Installs the trigger; call it before the first lookup. */
export async function installAgentTokenAudit(databasePath: string): Promise<void> {
  await runSqlite(databasePath, INSTALL_SQL);
}

/** Every agent token Ironic has stored since installAgentTokenAudit. */
export async function readIssuedAgentTokens(databasePath: string): Promise<string[]> {
  const stdout = await runSqlite(databasePath, 'SELECT token FROM ingot_agent_tokens ORDER BY seen_at');
  return JSON.parse(stdout) as string[];
}

/**
 * Token-looking values in a log that are not redacted: `agent_token` (or
 * `token`) followed by `=`, `:` or quotes and at least 16 URL-safe chars.
 */
export function findUnredactedTokens(text: string): string[] {
  const pattern = /agent[_-]?token["']?\s*[=:]\s*["']?([A-Za-z0-9_-]{16,})/gi;
  return [...text.matchAll(pattern)].map((match) => match[0]);
}

/**
 * The issued tokens found in `text`, each shown by its first four
 * characters only (the report must not leak them either).
 */
export function findIssuedTokens(text: string, tokens: readonly string[]): string[] {
  return tokens.filter((token) => text.includes(token)).map((token) => `${token.slice(0, 4)}…`);
}
