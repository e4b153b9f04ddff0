import { SetEnv } from '../protocol/index.js';

/** Parses `KEY=VALUE` (the value may contain '='); throws an Error with a usage message. */
export function parseEnvPair(pair: string): [string, string] {
  const eq = pair.indexOf('=');
  if (eq <= 0) throw new Error(`expected KEY=VALUE, got "${pair}"`);
  const key = pair.slice(0, eq);
  const value = pair.slice(eq + 1);
  // The contract's own validator, so the CLI and server agree on what a key may be.
  const checked = SetEnv.safeParse({ vars: { [key]: value } });
  if (!checked.success) throw new Error(`bad env var "${key}": ${checked.error.issues[0]?.message ?? 'invalid'}`);
  return [key, value];
}
