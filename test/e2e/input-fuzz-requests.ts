/**
 * Request generators for the input fuzz (input-fuzz.test.ts): one per body or query endpoint of
 * edge/index.ts, each a valid shape whose values are often hostile (NUL, lone surrogates, huge or
 * fractional numbers, odd dates, long strings, wrong types, extra keys) and whose path params and
 * query strings are often malformed (bad % escapes, unicode, overlong).
 */
import fc from 'fast-check';

export type Auth = 'admin' | 'node' | 'join' | 'none';

export interface FuzzRequest {
  /** The route, for grouping: `POST /api/v1/projects/:project/scale`. */
  route: string;
  method: string;
  /** Path and query as sent (the URL parser percent-encodes what it must, nothing more). */
  path: string;
  body?: string | Uint8Array<ArrayBuffer>;
  auth: Auth;
  headers?: Record<string, string>;
}

/** What the fuzz may aim at besides garbage: rows seeded before it starts. */
export interface Targets {
  project: string;
  deploymentIds: string[];
  taskId: string;
  nodeId: string;
  nodeName: string;
  digest: string;
  adminToken: string;
}

/** A JSON token written as is, for numbers JSON.stringify cannot produce (1e400, -0, 1.0). */
class Raw {
  constructor(readonly json: string) {}
}

export function toJson(value: unknown): string {
  if (value instanceof Raw) return value.json;
  if (Array.isArray(value)) return `[${value.map(toJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}:${toJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

// --- hostile values ---

const NASTY_CHARS = ['\u0000', '\ud800', '\udbff', '\udc00', '\udfff', '\u202e', '\ufeff', '\uffff', '%', '\\', '"', "'",
  '\n', '\r', '\t', '\u0085', '\u2028', '\x1b', '\x7f', '💥', 'é', ' ', '/', '.', '?', '#', '&', '='];
const char = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }) },
  { weight: 2, arbitrary: fc.constantFrom(...NASTY_CHARS) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
);
const nastyString = fc.string({ unit: char, maxLength: 40 });
const longString = fc.tuple(fc.constantFrom(41, 101, 129, 256, 513, 2_001, 4_097, 16_385, 65_537, 300_000), fc.constantFrom('x', 'é', '\u0000', '💥'))
  .map(([n, c]) => 'x'.repeat(n - 1) + c);
const specialString = fc.constantFrom('', ' ', '  padded  ', 'null', 'true', '0', '-1', '1e400', 'NaN', '__proto__', 'constructor',
  '..', '../../etc/passwd', 'sha256:', `sha256:${'g'.repeat(64)}`, `SHA256:${'A'.repeat(64)}`, "' OR 1=1 --", '${x}', '<script>',
  '%00', '%zz', 'http://127.0.0.1:9/', 'javascript:alert(1)', 'http://x/\u0000', 'http://[::1', 'd1234abcd5678', 't1234abcd5678');
export const hostileString = fc.oneof({ weight: 5, arbitrary: nastyString }, { weight: 1, arbitrary: longString }, { weight: 2, arbitrary: specialString });

const edgeNumber = fc.constantFrom(0, -0, -1, 0.5, -0.5, 1.5, 59.9, 2 ** 31 - 1, 2 ** 31, -(2 ** 31) - 1, 2 ** 32, 2 ** 53 - 1, 2 ** 53 + 2,
  2 ** 63, -(2 ** 63), 1e21, 1e308, -1e308, 5e-324, 8.64e15, 8.64e15 + 1, 253_402_300_800_000);
const rawNumber = fc.constantFrom('1e400', '-1e400', '1.0', '1E2', '-0', '0.0000001', '123456789012345678901234567890').map((s) => new Raw(s));
export const hostileNumber = fc.oneof(
  { weight: 6, arbitrary: edgeNumber },
  { weight: 2, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.maxSafeInteger() },
  { weight: 1, arbitrary: fc.double() },
  { weight: 1, arbitrary: rawNumber },
);

const deepNesting = fc.constantFrom(10, 1_000, 50_000).map((n) => new Raw('['.repeat(n) + ']'.repeat(n)));
/** Anything of the wrong type. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  hostileString,
  hostileNumber,
  fc.constantFrom(null, true, false, [], {}),
  deepNesting,
  fc.array(hostileString, { maxLength: 3 }),
  fc.dictionary(hostileString, hostileString, { maxKeys: 3 }),
);

/** How to fill one field of a body: a valid value, or a hostile one (mostly of the right type). */
interface Field {
  valid: fc.Arbitrary<unknown>;
  hostile: fc.Arbitrary<unknown>;
}
const field = (valid: fc.Arbitrary<unknown>, sameType: fc.Arbitrary<unknown>): Field => ({
  valid,
  hostile: fc.oneof({ weight: 3, arbitrary: sameType }, { weight: 1, arbitrary: hostileValue }),
});
/** A valid string with one bad character slipped in: what a user trips over most. */
const tainted = (valid: fc.Arbitrary<string>) =>
  fc.tuple(valid, fc.constantFrom('\u0000', '\ud800', '\udc00', '\udbff'), fc.nat()).map(([s, c, at]) => s.slice(0, at % (s.length + 1)) + c + s.slice(at % (s.length + 1)));
const str = (valid: fc.Arbitrary<string>) => field(valid, fc.oneof(tainted(valid), hostileString));
const num = (valid: fc.Arbitrary<number>) => field(valid, hostileNumber);
const opt = (f: Field): Field => ({ valid: fc.option(f.valid, { nil: undefined, freq: 3 }), hostile: f.hostile });
const constant = (value: unknown): Field => ({ valid: fc.constant(value), hostile: hostileValue });
const array = (item: Field, min: number, max: number): Field => ({
  valid: fc.array(item.valid, { minLength: min, maxLength: max }),
  hostile: fc.oneof(
    fc.tuple(fc.array(item.valid, { maxLength: max - 1 }), item.hostile, fc.nat()).map(([list, bad, at]) => {
      list.splice(at % (list.length + 1), 0, bad);
      return list;
    }),
    fc.array(item.valid, { minLength: max + 1, maxLength: max + 2 }),
    fc.constant([]),
    hostileValue,
  ),
});
const dictionary = (key: fc.Arbitrary<string>, value: fc.Arbitrary<string>, maxKeys: number): Field => ({
  valid: fc.dictionary(key, value, { maxKeys }),
  hostile: fc.oneof(
    fc.dictionary(fc.oneof(tainted(key), hostileString), fc.oneof(value, tainted(value), hostileString, hostileValue), { minKeys: 1, maxKeys }),
    hostileValue,
  ),
});
/** The value one time in `every`, else null. */
const sometimes = <T>(arb: fc.Arbitrary<T>, every: number) => fc.oneof({ weight: every - 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: arb });
const dropUndefined = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

/** An object whose fields are valid except one or two hostile ones, sometimes with a key dropped or extra keys. */
function object(fields: Record<string, Field>): Field {
  const keys = Object.keys(fields);
  const valid = fc.record(Object.fromEntries(keys.map((k) => [k, fields[k]!.valid]))).map(dropUndefined);
  const hostile = fc
    .tuple(
      valid,
      fc.record(Object.fromEntries(keys.map((k) => [k, fields[k]!.hostile]))),
      fc.uniqueArray(fc.constantFrom(...keys), { minLength: 1, maxLength: 2 }),
      sometimes(fc.dictionary(hostileString, hostileValue, { minKeys: 1, maxKeys: 2 }), 6),
      sometimes(fc.constantFrom(...keys), 8),
    )
    .map(([base, bad, corrupt, extra, drop]) => {
      const out: Record<string, unknown> = { ...(extra ?? {}), ...base };
      for (const k of corrupt) out[k] = bad[k];
      if (drop) delete out[drop];
      return out;
    });
  return { valid, hostile: fc.oneof({ weight: 4, arbitrary: hostile }, { weight: 1, arbitrary: hostileValue }) };
}

const garbageBody = fc.constantFrom('', '{', '{"a":', 'null', '[]', '"x"', '\u0000', '{"a":1}{"b":2}', '\ufeff{}', '{"a":"\\ud800"}', '{"a":"\\u0000"}');
/** A body: mostly near-valid, sometimes valid (to reach deeper states), sometimes not JSON at all. */
function body(fields: Record<string, Field>): fc.Arbitrary<string> {
  const o = object(fields);
  return fc.oneof(
    { weight: 3, arbitrary: o.valid.map(toJson) },
    { weight: 12, arbitrary: o.hostile.map(toJson) },
    { weight: 1, arbitrary: garbageBody },
  );
}

// --- paths and query strings ---

const badEscape = fc.constantFrom('%', '%%', '%zz', '%E0%A4%A', '%C0%AF', '%ED%A0%80', '%FF', '%00', '%2F', '%2e%2e', 'a%', '%F0%9F%92%A5', '%u0041', '%C3%A9');
const encoded = (s: string) => {
  try {
    return encodeURIComponent(s);
  } catch {
    return s; // a lone surrogate: let the URL parser deal with it
  }
};
/** A path segment: a known one (percent-encoded as a client would), or a malformed or unusual one. */
function segment(known: string[]): fc.Arbitrary<string> {
  // Up to 4 KiB: longer URLs are refused by the HTTP server in front of the Worker (431), not by our code.
  const long = longString.filter((s) => s.length <= 4_097).map(encoded);
  const hostile = fc.oneof(badEscape, nastyString.map(encoded), nastyString.filter((s) => s.length > 0), long);
  return known.length ? fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...known).map(encoded) }, { weight: 2, arbitrary: hostile }) : hostile;
}

const QUERY_NUMBERS = ['', '0', '1', '2', '-1', '0.5', '1.5', '-0', '1e3', '0x10', ' 5', '5 ', '+5', '007', '2147483647', '2147483648',
  '9007199254740993', '9223372036854775807', '9223372036854775808', '-9223372036854775809', '99999999999999999999999', 'Infinity', 'NaN', 'true'];
const QUERY_TIMES = ['2024-01-01', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00.000+02:00', '2024-02-30T00:00:00Z', '2024-13-45', '0', '1',
  '12', '2024', 'Tue, 01 Jan 2024 00:00:00 GMT', 'January 1, 2024', '1/2/3', '+275760-09-13T00:00:00.000Z', '-271821-04-20T00:00:00Z',
  '275760-09-13', '0001-01-01', '10000-01-01', '10m', '30s', '2h', '1d', '0m', '-5m', '99999999999d', '9007199254740993s', '1e3m',
  '5 minutes', 'now', 'infinity', '-infinity', 'epoch', 'today', 'allballs', 'J2451187'];
const queryValue = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...QUERY_NUMBERS) },
  { weight: 3, arbitrary: fc.constantFrom(...QUERY_TIMES) },
  fc.integer().map(String),
  fc.double().map(String),
  fc.bigInt().map(String),
  badEscape,
  nastyString.map(encoded),
);
/** `?k=v&…`: each key absent or valid, except one or two with a hostile value. */
function query(params: Record<string, fc.Arbitrary<string>>): fc.Arbitrary<string> {
  const keys = Object.keys(params);
  const valid = fc.tuple(...keys.map((k) => fc.option(params[k]!.map(encoded), { nil: undefined })));
  return fc
    .tuple(valid, fc.array(queryValue, { minLength: keys.length, maxLength: keys.length }), fc.uniqueArray(fc.nat(keys.length - 1), { maxLength: 2 }))
    .map(([values, bad, corrupt]) => {
      for (const i of corrupt) values[i] = bad[i];
      const q = keys.flatMap((k, i) => (values[i] === undefined ? [] : [`${k}=${values[i]}`])).join('&');
      return q ? `?${q}` : '';
    });
}

// --- the endpoints ---

const ENV_KEY = fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,8}$/);
const envMap = dictionary(ENV_KEY, fc.string({ maxLength: 20 }), 3);

export function requestArbitrary(t: Targets): fc.Arbitrary<FuzzRequest> {
  const project = segment([t.project]);
  const anyDigest = fc.oneof(fc.constant(t.digest), fc.stringMatching(/^sha256:[0-9a-f]{64}$/));
  const json = (route: string, method: string, path: fc.Arbitrary<string>, payload: fc.Arbitrary<string>, auth: Auth = 'admin') =>
    fc.tuple(path, payload).map(([p, b]): FuzzRequest => ({ route, method, path: p, body: b, auth }));
  const get = (route: string, path: fc.Arbitrary<string>, auth: Auth = 'admin') => path.map((p): FuzzRequest => ({ route, method: 'GET', path: p, auth }));
  const del = (route: string, path: fc.Arbitrary<string>) => path.map((p): FuzzRequest => ({ route, method: 'DELETE', path: p, auth: 'admin' }));
  const healthCheck = object({
    path: str(fc.constantFrom('/', '/health')),
    intervalMs: num(fc.integer({ min: 100, max: 300_000 })),
    timeoutMs: num(fc.integer({ min: 50, max: 60_000 })),
    graceMs: num(fc.integer({ min: 0, max: 600_000 })),
  });
  const resources = object({ cpuMillis: num(fc.integer({ min: 1, max: 500 })), memoryMb: num(fc.integer({ min: 16, max: 512 })) });
  const observed = object({
    id: str(fc.constantFrom(t.taskId, 't0000nothere0')),
    state: str(fc.constantFrom('pending', 'starting', 'healthy', 'unhealthy', 'exited', 'failed')),
    pid: opt(num(fc.integer({ min: 1, max: 4_000_000 }))),
    exitCode: opt(field(fc.oneof(fc.constant(null), fc.integer({ min: 0, max: 255 })), hostileNumber)),
    restarts: num(fc.integer({ min: 0, max: 10 })),
    message: opt(str(fc.string({ maxLength: 40 }))),
    cpuMillis: opt(num(fc.integer({ min: 0, max: 4_000 }))),
    rssBytes: opt(num(fc.integer({ min: 0, max: 2 ** 34 }))),
  });
  const logEntry = object({
    seq: num(fc.integer({ min: 1, max: 1_000_000 })),
    ts: num(fc.integer({ min: 0, max: 4_102_444_800_000 })),
    stream: str(fc.constantFrom('stdout', 'stderr', 'system')),
    line: str(fc.string({ maxLength: 80 })),
  });
  const pushUrl = str(fc.constantFrom('http://127.0.0.1:9/push', 'http://[::1]:9/'));

  const endpoints: fc.Arbitrary<FuzzRequest>[] = [
    fc.tuple(body({ token: str(fc.constantFrom(t.adminToken, 'zt_nope')) }), fc.boolean()).map(([b, jsonType]) => ({
      route: 'POST /api/v1/sessions', method: 'POST', path: '/api/v1/sessions', body: b, auth: 'none' as const,
      headers: { 'content-type': jsonType ? 'application/json' : 'text/plain' },
    })),
    fc.tuple(fc.string({ unit: 'binary-ascii', maxLength: 80 }), fc.boolean()).map(([cookie, csrf]) => ({
      route: 'DELETE /api/v1/sessions/current', method: 'DELETE', path: '/api/v1/sessions/current', auth: 'none' as const,
      headers: { cookie: `zectre_session=${cookie.replace(/[\0-\x1f\x7f;]/g, '')}`, ...(csrf ? { 'x-zectre-csrf': '1' } : {}) },
    })),
    json('POST /api/v1/projects', 'POST', fc.constant('/api/v1/projects'), body({ name: str(fc.stringMatching(/^[a-z][a-z0-9]{0,12}$/)) })),
    get('GET /api/v1/projects/:project', project.map((p) => `/api/v1/projects/${p}`)),
    fc.tuple(
      project,
      fc.oneof(fc.uint8Array({ maxLength: 64 }).map((b) => new Uint8Array([0x1f, 0x8b, ...b])), fc.uint8Array({ maxLength: 64 }).map((b) => new Uint8Array(b))),
      fc.option(fc.oneof(anyDigest, fc.string({ unit: 'grapheme-ascii', maxLength: 80 }))),
    ).map(([p, bytes, digest]) => ({
      route: 'PUT /api/v1/projects/:project/artifacts', method: 'PUT', path: `/api/v1/projects/${p}/artifacts`, body: bytes, auth: 'admin' as const,
      headers: { 'content-type': 'application/gzip', ...(digest === null ? {} : { 'x-zectre-digest': digest }) },
    })),
    get('GET /api/v1/projects/:project/artifacts/:digest', fc.tuple(project, fc.oneof(anyDigest.map(encoded), segment([t.digest])))
      .map(([p, d]) => `/api/v1/projects/${p}/artifacts/${d}`)),
    json('POST /api/v1/projects/:project/deployments', 'POST', project.map((p) => `/api/v1/projects/${p}/deployments`), body({
      artifact: str(anyDigest),
      command: str(fc.constantFrom('node server.js', 'sleep 1')),
      env: opt(envMap),
      replicas: opt(num(fc.integer({ min: 1, max: 2 }))),
      healthCheck: opt(healthCheck),
      resources: opt(resources),
      restartPolicy: opt(str(fc.constantFrom('always', 'on-failure', 'never'))),
      deadlineSeconds: opt(num(fc.integer({ min: 5, max: 3_600 }))),
    })),
    get('GET /api/v1/projects/:project/deployments', project.map((p) => `/api/v1/projects/${p}/deployments`)),
    get('GET /api/v1/deployments/:id', segment(t.deploymentIds).map((d) => `/api/v1/deployments/${d}`)),
    get('GET /api/v1/projects/:project/env', fc.tuple(project, query({ reveal: fc.constant('true') })).map(([p, q]) => `/api/v1/projects/${p}/env${q}`)),
    json('PUT /api/v1/projects/:project/env', 'PUT', project.map((p) => `/api/v1/projects/${p}/env`), body({ vars: envMap })),
    del('DELETE /api/v1/projects/:project/env/:key', fc.tuple(project, segment(['A', 'NOPE'])).map(([p, k]) => `/api/v1/projects/${p}/env/${k}`)),
    get('GET /api/v1/projects/:project/logs', fc.tuple(project, query({
      after: fc.constantFrom('0', '1', '5'),
      limit: fc.constantFrom('1', '10', '1000'),
      deployment: fc.constantFrom(...t.deploymentIds),
      task: fc.constant(t.taskId),
      since: fc.constantFrom('10m', '2024-01-01T00:00:00Z'),
    })).map(([p, q]) => `/api/v1/projects/${p}/logs${q}`)),
    // Only hostile names: the fuzz must not delete what it aims at.
    del('DELETE /api/v1/projects/:project', segment([]).map((p) => `/api/v1/projects/${p}`)),
    json('POST /api/v1/projects/:project/rollback', 'POST', project.map((p) => `/api/v1/projects/${p}/rollback`), body({
      deployment: opt(str(fc.constantFrom(...t.deploymentIds))),
      deadlineSeconds: opt(num(fc.integer({ min: 5, max: 3_600 }))),
    })),
    json('POST /api/v1/projects/:project/scale', 'POST', project.map((p) => `/api/v1/projects/${p}/scale`), body({ replicas: num(fc.integer({ min: 1, max: 2 })) })),
    json('POST /api/v1/projects/:project/env/unset', 'POST', project.map((p) => `/api/v1/projects/${p}/env/unset`), body({
      keys: array(str(ENV_KEY), 1, 3),
    })),
    get('GET /api/v1/projects/:project/events', fc.tuple(project, query({ limit: fc.constantFrom('1', '50', '500'), before: fc.constantFrom('1', '100') }))
      .map(([p, q]) => `/api/v1/projects/${p}/events${q}`)),
    json('POST /api/v1/projects/:project/domains', 'POST', project.map((p) => `/api/v1/projects/${p}/domains`), body({
      hostname: str(fc.constantFrom('www.example.com', 'Shop.Example.COM.', 'x.zectre.localhost', '-bad-.com', '1.2.3.4', 'a..b', '*.example.com')),
    })),
    get('GET /api/v1/projects/:project/domains', project.map((p) => `/api/v1/projects/${p}/domains`)),
    get('GET /api/v1/projects/:project/domains/:hostname', fc.tuple(project, segment(['www.example.com'])).map(([p, h]) => `/api/v1/projects/${p}/domains/${h}`)),
    del('DELETE /api/v1/projects/:project/domains/:hostname', fc.tuple(project, segment(['nope.example.com'])).map(([p, h]) => `/api/v1/projects/${p}/domains/${h}`)),
    json('POST /api/v1/tokens', 'POST', fc.constant('/api/v1/tokens'), body({
      name: str(fc.string({ minLength: 1, maxLength: 30 })),
      project: opt(str(fc.constant(t.project))),
    })),
    del('DELETE /api/v1/tokens/:id', segment([]).map((id) => `/api/v1/tokens/${id}`)),
    json('POST /api/v1/join-tokens', 'POST', fc.constant('/api/v1/join-tokens'), body({ expiresInSeconds: opt(num(fc.integer({ min: 60, max: 86_400 }))) })),
    get('GET /api/v1/nodes/:node', segment([t.nodeId, t.nodeName]).map((n) => `/api/v1/nodes/${n}`)),
    json('POST /api/v1/nodes/:node/drain', 'POST', segment([]).map((n) => `/api/v1/nodes/${n}/drain`), fc.constant('{}')),
    json('POST /api/v1/tasks/:id/logs', 'POST', segment([t.taskId]).map((id) => `/api/v1/tasks/${id}/logs`),
      body({ entries: array(logEntry, 1, 4) }), 'node'),
    json('POST /scheduler/v1/nodes/register', 'POST', fc.constant('/scheduler/v1/nodes/register'), body({
      name: str(fc.string({ minLength: 1, maxLength: 20 })),
      address: str(fc.constantFrom('127.0.0.1', '10.0.0.2', 'node.internal')),
      pushUrl: opt(pushUrl),
      labels: opt(dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), 3)),
      capacity: object({ cpuMillis: num(fc.integer({ min: 100, max: 2_000 })), memoryMb: num(fc.integer({ min: 128, max: 2_048 })) }),
      portRange: opt(field(fc.constant([30_000, 30_099]), fc.tuple(hostileNumber, hostileNumber))),
    }), 'join'),
    json('POST /scheduler/v1/nodes/:id/heartbeat', 'POST', segment([t.nodeId]).map((id) => `/scheduler/v1/nodes/${id}/heartbeat`), body({
      appliedGeneration: num(fc.integer({ min: 0, max: 100 })),
      tasks: array(observed, 0, 2),
      pushUrl: opt({ valid: fc.oneof(fc.constant(null), pushUrl.valid), hostile: pushUrl.hostile }),
    }), 'node'),
    fc.tuple(fc.oneof(anyDigest.map(encoded), segment([t.digest, `sha256%3A${t.digest.slice(7)}`])), fc.constantFrom<Auth>('admin', 'node'))
      .map(([d, auth]) => ({ route: 'GET /registry/v1/blobs/:digest', method: 'GET', path: `/registry/v1/blobs/${d}`, auth })),
    // People and roles (issue 12). Only hostile member, user and invite references: the fuzz must not
    // demote, remove or disable what it runs as.
    json('POST /api/v1/projects/:project/invites', 'POST', project.map((p) => `/api/v1/projects/${p}/invites`), body({
      role: str(fc.constantFrom('viewer', 'developer', 'owner')),
      expiresInHours: opt(num(fc.integer({ min: 1, max: 720 }))),
    })),
    get('GET /api/v1/projects/:project/invites', project.map((p) => `/api/v1/projects/${p}/invites`)),
    del('DELETE /api/v1/projects/:project/invites/:id', fc.tuple(project, segment(['i0000nothere0'])).map(([p, id]) => `/api/v1/projects/${p}/invites/${id}`)),
    get('GET /api/v1/invites/:token', segment(['zi_nope']).map((tok) => `/api/v1/invites/${tok}`), 'none'),
    json('POST /api/v1/invites/:token/accept', 'POST', segment(['zi_nope']).map((tok) => `/api/v1/invites/${tok}/accept`), fc.constant('{}')),
    get('GET /api/v1/projects/:project/members', project.map((p) => `/api/v1/projects/${p}/members`)),
    json('PUT /api/v1/projects/:project/members/:user', 'PUT', fc.tuple(project, segment([])).map(([p, u]) => `/api/v1/projects/${p}/members/${u}`),
      body({ role: str(fc.constantFrom('viewer', 'developer', 'owner')) })),
    del('DELETE /api/v1/projects/:project/members/:user', fc.tuple(project, segment([])).map(([p, u]) => `/api/v1/projects/${p}/members/${u}`)),
    json('POST /api/v1/users/:user/disable', 'POST', segment([]).map((u) => `/api/v1/users/${u}/disable`), fc.constant('{}')),
    json('POST /api/v1/users/:user/enable', 'POST', segment([]).map((u) => `/api/v1/users/${u}/enable`), fc.constant('{}')),
    // Builds (issue 13). No builder runs in the fuzz stack: creation stops at 503 no_builder or earlier.
    json('POST /api/v1/projects/:project/builds', 'POST', project.map((p) => `/api/v1/projects/${p}/builds`), body({
      sourceDigest: str(anyDigest),
      deploy: opt(field(fc.boolean(), hostileValue)),
      config: opt(object({
        command: opt(str(fc.constantFrom('npm run build', 'make'))),
        install: opt(str(fc.constant('npm ci'))),
        start: opt(str(fc.constant('node server.js'))),
        buildVars: opt(array(str(ENV_KEY), 0, 3)),
        timeoutSeconds: opt(num(fc.integer({ min: 1, max: 3_600 }))),
        memoryMb: opt(num(fc.integer({ min: 64, max: 4_096 }))),
      })),
    })),
    get('GET /api/v1/projects/:project/builds', project.map((p) => `/api/v1/projects/${p}/builds`)),
    get('GET /api/v1/builds/:id', segment(['b0000nothere0']).map((id) => `/api/v1/builds/${id}`)),
    get('GET /api/v1/builds/:id/logs', fc.tuple(segment(['b0000nothere0']), query({ after: fc.constantFrom('0', '5'), wait: fc.constantFrom('0', '1') }))
      .map(([id, q]) => `/api/v1/builds/${id}/logs${q}`)),
    json('POST /api/v1/builds/:id/cancel', 'POST', segment(['b0000nothere0']).map((id) => `/api/v1/builds/${id}/cancel`), fc.constant('{}')),
    json('POST /scheduler/v1/nodes/:id/builds/claim', 'POST', segment([t.nodeId]).map((id) => `/scheduler/v1/nodes/${id}/builds/claim`), fc.constant('{}'), 'node'),
    json('POST /scheduler/v1/builds/:id/report', 'POST', segment(['b0000nothere0']).map((id) => `/scheduler/v1/builds/${id}/report`), body({
      lines: array(object({
        seq: num(fc.integer({ min: 1, max: 1_000_000 })),
        at: num(fc.integer({ min: 0, max: 4_102_444_800_000 })),
        stream: str(fc.constantFrom('stdout', 'stderr', 'system')),
        line: str(fc.string({ maxLength: 80 })),
      }), 0, 3),
      step: opt(str(fc.constantFrom('install', 'build'))),
    }), 'node'),
    get('GET /scheduler/v1/builds/:id/source', segment(['b0000nothere0']).map((id) => `/scheduler/v1/builds/${id}/source`), 'node'),
    get('GET /scheduler/v1/builds/:id/cache', segment(['b0000nothere0']).map((id) => `/scheduler/v1/builds/${id}/cache`), 'node'),
    ...(['cache', 'artifact'] as const).map((what) => fc.tuple(segment(['b0000nothere0']), fc.uint8Array({ maxLength: 64 })).map(([id, bytes]) => ({
      route: `PUT /scheduler/v1/builds/:id/${what}`, method: 'PUT', path: `/scheduler/v1/builds/${id}/${what}`,
      body: new Uint8Array([0x1f, 0x8b, ...bytes]), auth: 'node' as const, headers: { 'content-type': 'application/gzip' },
    }))),
  ];
  return fc.oneof(...endpoints);
}

/** One request per cause of a 5xx found so far (issue 9), in order: sent one by one before the generated ones, whatever the seed. */
export function knownCauses(t: Targets): FuzzRequest[] {
  const post = (route: string, path: string, body: unknown, auth: Auth = 'admin'): FuzzRequest => ({ route, method: 'POST', path, body: toJson(body), auth });
  const get = (route: string, path: string): FuzzRequest => ({ route, method: 'GET', path, auth: 'admin' });
  const node = { name: 'n', address: '127.0.0.1', capacity: { cpuMillis: 100, memoryMb: 128 } };
  const logs = 'GET /api/v1/projects/:project/logs';
  const register = 'POST /scheduler/v1/nodes/register';
  const heartbeat = 'POST /scheduler/v1/nodes/:id/heartbeat';
  return [
    post('POST /api/v1/tokens', '/api/v1/tokens', { name: 'ci\u0000' }),
    post('POST /api/v1/tokens', '/api/v1/tokens', { name: 'ci\ud800' }),
    post(register, '/scheduler/v1/nodes/register', { ...node, name: 'n\u0000' }, 'join'),
    post(register, '/scheduler/v1/nodes/register', { ...node, name: 'n\udc00' }, 'join'),
    post(register, '/scheduler/v1/nodes/register', { ...node, labels: { zone: 'a\u0000' } }, 'join'),
    post(register, '/scheduler/v1/nodes/register', { ...node, capacity: { cpuMillis: 2 ** 31, memoryMb: 128 } }, 'join'),
    post(heartbeat, `/scheduler/v1/nodes/${t.nodeId}/heartbeat`, { appliedGeneration: 0, tasks: [], pushUrl: '\u0000http://127.0.0.1:9/' }, 'node'),
    post(heartbeat, `/scheduler/v1/nodes/${t.nodeId}/heartbeat`, { appliedGeneration: 0, tasks: [{ id: t.taskId, state: 'healthy', restarts: 2 ** 31 }] }, 'node'),
    post(heartbeat, `/scheduler/v1/nodes/${t.nodeId}/heartbeat`, { appliedGeneration: 0, tasks: [{ id: t.taskId, state: 'healthy', cpuMillis: 2 ** 31 }] }, 'node'),
    post('POST /api/v1/projects/:project/deployments', `/api/v1/projects/${t.project}/deployments`, { artifact: t.digest, command: 'node\u0000server.js' }),
    // Once stored, a time past JavaScript's last date made every later read of the project's logs fail.
    post('POST /api/v1/tasks/:id/logs', `/api/v1/tasks/${t.taskId}/logs`, { entries: [{ seq: 1_000_001, ts: 2 ** 53 - 1, stream: 'stdout', line: 'far future' }] }, 'node'),
    get(logs, `/api/v1/projects/${t.project}/logs`),
    get(logs, `/api/v1/projects/${t.project}/logs?after=99999999999999999999`),
    get(logs, `/api/v1/projects/${t.project}/logs?limit=-1`),
    get(logs, `/api/v1/projects/${t.project}/logs?limit=1.5`),
    get(logs, `/api/v1/projects/${t.project}/logs?since=2024`),
    get(logs, `/api/v1/projects/${t.project}/logs?deployment=%00`),
    get('GET /api/v1/projects/:project/events', `/api/v1/projects/${t.project}/events?before=9223372036854775808`),
    get('GET /registry/v1/blobs/:digest', '/registry/v1/blobs/sha256%zz'),
  ];
}
