import { CommanderError } from 'commander';

/** An error meant for the user: printed as one line, never with a stack trace. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
    readonly code?: string,
  ) {
    super(message);
  }
}

/** Bad arguments that commander cannot check itself (e.g. a malformed KEY=VALUE). */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, 2);
  }
}

export class NotLoggedInError extends CliError {
  constructor(detail: string) {
    super(`not logged in (${detail}): run \`zectre login --api URL\` (or \`--token TOKEN\`), or set ZECTRE_API_URL and ZECTRE_TOKEN`, 3);
  }
}

/** A non-2xx answer carrying the contract's `{error:{code,message}}` body. */
export class ApiError extends CliError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
  ) {
    // 401/403 share the "not logged in" exit code: the fix is the same (a valid token).
    super(message + roleHint(status, code, message), status === 401 || status === 403 ? 3 : 1, code);
  }
}

/** A role too low for the request: say who can change that. */
function roleHint(status: number, code: string, message: string): string {
  const project = status === 403 && code === 'forbidden' ? /role on project (\S+);/.exec(message)?.[1] : undefined;
  return project ? `. An owner of ${project} can change your role (zectre members list ${project} shows them)` : '';
}

export class ConnectionError extends CliError {
  constructor(apiUrl: string, reason: string) {
    super(`cannot reach the Zectre API at ${apiUrl}: ${reason}`, 1);
  }
}

/** Prints `err` as one line on stderr and returns the process exit code. */
export function reportError(err: unknown): number {
  // Commander has already printed its own message (or the help text).
  if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
  if (err instanceof CliError) {
    process.stderr.write(`error: ${err.message}${err.code ? ` (${err.code})` : ''}\n`);
    return err.exitCode;
  }
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`error: ${message}\n`);
  return 1;
}
