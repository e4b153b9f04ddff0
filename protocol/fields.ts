/**
 * Field validators every wire schema builds on, bounded by what PostgreSQL stores: JSON can carry
 * values a UTF-8 database or an int4 column cannot (NUL, lone UTF-16 surrogates, 2^31), and a value
 * that passes the schema must never fail in SQL (that would be a 500 for bad input).
 */
import { z } from 'zod';

/** NUL (refused by text and jsonb) or an unpaired surrogate (refused by jsonb, silently U+FFFD in text). */
const UNSTORABLE = /\0|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const UNSTORABLE_ALL = new RegExp(UNSTORABLE.source, 'g');
const CONTROL = /[\0-\x1f\x7f-\x9f]/;

/** Text from a user: at most `max` UTF-16 units, refused when it holds NUL or a lone surrogate. */
export function text(max: number, min = 0) {
  return z
    .string()
    .min(min)
    .max(max)
    .refine((s) => !UNSTORABLE.test(s), 'must not contain NUL characters or unpaired UTF-16 surrogates');
}

/** Text on one line (a name, an address, a URL path): also no control characters. */
export function line(max: number, min = 1) {
  return text(max, min).refine((s) => !CONTROL.test(s), 'must not contain control characters (newlines, tabs, escapes)');
}

/** An http(s) URL the Worker may fetch (an agent's push URL). */
export function httpUrl(max = 2_048) {
  return text(max).pipe(z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }));
}

/**
 * Text an agent reports about an app (log lines, task messages). The app controls it, so it is
 * cleaned instead of refused: a refused heartbeat or log batch would stall the node for everyone.
 */
export function reported(max: number) {
  return z
    .string()
    .max(max)
    .transform((s) => s.replace(UNSTORABLE_ALL, '\ufffd'));
}

/** PostgreSQL `integer` columns. */
export const INT4_MAX = 2_147_483_647;
export function int4(min = -INT4_MAX - 1, max = INT4_MAX) {
  return z.number().int().min(min).max(max);
}

/** Milliseconds since the epoch that PostgreSQL and JavaScript both read back: years 0001 to 9999. */
export const MIN_EPOCH_MS = -62_135_596_800_000;
export const MAX_EPOCH_MS = 253_402_300_799_999;

// --- query string values (always strings) ---

const INT8_MAX = 9_223_372_036_854_775_807n;

/** A bigserial id or cursor, as a decimal string within PostgreSQL's bigint. */
export const cursor = z
  .string()
  .refine((v) => /^\d{1,19}$/.test(v) && BigInt(v) <= INT8_MAX, 'expected a whole number (a cursor or id from an earlier answer)');

/** A page size: a whole number from 1; larger than `max` reads `max`. */
export function pageLimit(max: number, fallback: number) {
  return z
    .string()
    .regex(/^\d{1,16}$/, `expected a whole number from 1 to ${max}`)
    .transform(Number)
    .refine((n) => n >= 1, `expected a whole number from 1 to ${max}`)
    .transform((n) => Math.min(n, max))
    .default(fallback);
}

const ISO_TIME = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])(T([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,9})?)?(Z|[+-]([01]\d|2[0-3]):?[0-5]\d)?)?$/;
const RELATIVE = /^(\d{1,6})([smhd])$/;
const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A point in time: ISO 8601 (`2024-05-01`, `2024-05-01T10:00:00Z`, with an offset) or a duration
 * back from now (`30s`, `10m`, `2h`, `1d`). Becomes the ISO string of that instant, which PostgreSQL
 * always parses (years 0001-9999); `Date.parse` alone accepts forms PostgreSQL refuses.
 */
export const since = z.string().transform((value, ctx) => {
  const relative = RELATIVE.exec(value);
  const ms = relative ? Date.now() - Number(relative[1]) * UNIT_MS[relative[2]!]! : ISO_TIME.test(value) ? Date.parse(value) : NaN;
  if (!(ms >= MIN_EPOCH_MS && ms <= MAX_EPOCH_MS)) {
    ctx.addIssue({ code: 'custom', message: 'expected an ISO 8601 time (2024-05-01T10:00:00Z) or a duration like 30s, 10m, 2h, 1d' });
    return z.NEVER;
  }
  return new Date(ms).toISOString();
});
