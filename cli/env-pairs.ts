import { UsageError } from './errors.js';

/** Splits `KEY=VALUE` (the value may contain '='); throws an Error with a usage message. Runs while parsing flags. */
export function splitEnvPair(pair: string): [string, string] {
  const eq = pair.indexOf('=');
  if (eq <= 0) throw new Error(`expected KEY=VALUE, got "${pair}"`);
  return [pair.slice(0, eq), pair.slice(eq + 1)];
}

/**
 * Checks names and values with the contract's own validator, so the CLI and server agree on what a
 * key may be. Loaded when a command runs, not at startup: the schemas cost every command otherwise.
 */
export async function checkEnv(vars: Record<string, string>): Promise<void> {
  const { SetEnv } = await import('../protocol/index.js');
  const checked = SetEnv.safeParse({ vars });
  if (checked.success) return;
  const issue = checked.error.issues[0];
  // A bad name is reported as "Invalid key in record", with the schema's own message one level down.
  const nested = issue && 'issues' in issue ? (issue.issues as { message: string }[])[0] : undefined;
  const key = issue?.path[1];
  throw new UsageError(`bad env var${key === undefined ? '' : ` "${String(key)}"`}: ${nested?.message ?? issue?.message ?? 'invalid'}`);
}
