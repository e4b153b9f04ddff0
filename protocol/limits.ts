/**
 * Limits both ends check, in a module without zod: the CLI parses its flags with them at startup,
 * where loading the schemas would cost every command (even `--help`) tens of milliseconds.
 */

/** Replicas of one deployment, at most (a fleet can run a release on hundreds of nodes). */
export const MAX_REPLICAS = 1000;
