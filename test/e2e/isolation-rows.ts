/**
 * The isolation matrix: one row per route of the Worker (edge/index.ts ROUTES; a route without a
 * row fails the suite), each stating the exact status every principal gets. "alpha" is the project
 * under test; every principal that is refused must get no 2xx.
 *
 * Path placeholders, filled per call by isolation-matrix.test.ts: {alpha} the project, {deployment}
 * its live deployment, {digest} its artifact, {task} one of its tasks, {agentNode} the node that ran
 * it, {bystander} a node that runs nothing of it, {victim} an API token of alpha's owner user,
 * {gone} a project of this principal's own to delete (same members as alpha), {key}/{ukey} an env
 * var of alpha set for this principal alone.
 */

export const PRINCIPALS = [
  'none', // no credentials at all
  'wrong', // a well-formed API token nobody issued
  'revoked', // an admin's API token, revoked
  'scoped', // an admin's API token scoped to project beta
  'viewer',
  'developer',
  'owner',
  'admin', // the admin's global token
  'node', // the credential of a node that runs nothing of alpha
  'join', // a valid join token
  'cookie', // a dashboard session made from a token scoped to beta (with the CSRF header)
] as const;
export type PrincipalName = (typeof PRINCIPALS)[number];
export type Expect = Record<PrincipalName, number>;

export interface Row {
  route: string;
  path: string;
  body?: (p: PrincipalName, secret: string | undefined) => unknown;
  /** The secret in the path entitles any holder to alpha's name (an invite link): no leak check for it. */
  showsProjectName?: true;
  /** Bytes as the body (artifact uploads). */
  upload?: true;
  expect: Expect;
  note?: string;
}

/** Principals with no API token or session that a person could act with. */
const NOT_A_USER = { none: 401, wrong: 401, revoked: 401, node: 401, join: 401 } as const;

const everyone = (status: number): Expect =>
  Object.fromEntries(PRINCIPALS.map((p) => [p, status])) as Expect;

/** Any person's token or session: `ok`; a project-scoped token or its session: `scoped`. */
const anyUser = (ok: number, scoped = ok): Expect => ({
  ...NOT_A_USER, scoped, cookie: scoped, viewer: ok, developer: ok, owner: ok, admin: ok,
});

const RANK = { viewer: 1, developer: 2, owner: 3 } as const;

/** A route on project alpha needing `role`: lower roles 403; tokens scoped to beta see no alpha (404). */
const onAlpha = (role: keyof typeof RANK, ok: number): Expect => ({
  ...NOT_A_USER,
  scoped: 404,
  cookie: 404,
  viewer: RANK.viewer >= RANK[role] ? ok : 403,
  developer: RANK.developer >= RANK[role] ? ok : 403,
  owner: ok,
  admin: ok,
});

const adminOnly = (ok: number): Expect => ({ ...anyUser(403), admin: ok });
const nodeOnly = (node: number): Expect => ({ ...everyone(401), node });

const TINY_NODE = { address: '127.0.0.1', capacity: { cpuMillis: 1, memoryMb: 1 }, portRange: [40000, 40099] };

export const ROWS: Row[] = [
  { route: 'GET /healthz', path: '/healthz', expect: everyone(200) },
  { route: 'GET /api/v1/whoami', path: '/api/v1/whoami', expect: anyUser(200) },
  {
    route: 'POST /api/v1/sessions',
    path: '/api/v1/sessions',
    note: 'the token is the body; without one (no credentials, a cookie) the body is invalid',
    body: (_p, secret) => (secret ? { token: secret } : {}),
    expect: { ...anyUser(201), none: 400, cookie: 400 },
  },
  {
    route: 'DELETE /api/v1/sessions/current',
    path: '/api/v1/sessions/current',
    note: 'only a session cookie can be signed out (the cookie principal signs out a fresh session)',
    expect: { ...everyone(401), cookie: 200 },
  },
  {
    route: 'POST /api/v1/projects',
    path: '/api/v1/projects',
    body: (p) => ({ name: `made-by-${p}` }),
    expect: anyUser(201, 403),
  },
  { route: 'GET /api/v1/projects', path: '/api/v1/projects', expect: anyUser(200) },
  { route: 'GET /api/v1/projects/:project', path: '/api/v1/projects/{alpha}', expect: onAlpha('viewer', 200) },
  {
    route: 'PUT /api/v1/projects/:project/artifacts',
    path: '/api/v1/projects/{alpha}/artifacts',
    note: 'bytes alpha already has: 200',
    upload: true,
    expect: onAlpha('developer', 200),
  },
  {
    route: 'GET /api/v1/projects/:project/artifacts/:digest',
    path: '/api/v1/projects/{alpha}/artifacts/{digest}',
    note: "alpha's artifact, as alpha's: viewers of alpha",
    expect: onAlpha('viewer', 200),
  },
  {
    route: 'POST /api/v1/projects/:project/deployments',
    path: '/api/v1/projects/{alpha}/deployments',
    body: () => ({ artifact: '{digest}', command: 'node server.js', deadlineSeconds: 5 }),
    expect: onAlpha('developer', 201),
  },
  { route: 'GET /api/v1/projects/:project/deployments', path: '/api/v1/projects/{alpha}/deployments', expect: onAlpha('viewer', 200) },
  { route: 'GET /api/v1/deployments/:id', path: '/api/v1/deployments/{deployment}', expect: onAlpha('viewer', 200) },
  { route: 'GET /api/v1/projects/:project/env', path: '/api/v1/projects/{alpha}/env', expect: onAlpha('viewer', 200) },
  { route: 'GET /api/v1/projects/:project/env', path: '/api/v1/projects/{alpha}/env?reveal=true', note: 'values: owners only', expect: onAlpha('owner', 200) },
  {
    route: 'PUT /api/v1/projects/:project/env',
    path: '/api/v1/projects/{alpha}/env',
    body: () => ({ vars: { SET_BY_MATRIX: 'x' } }),
    expect: onAlpha('developer', 200),
  },
  { route: 'DELETE /api/v1/projects/:project/env/:key', path: '/api/v1/projects/{alpha}/env/{key}', expect: onAlpha('developer', 200) },
  { route: 'GET /api/v1/projects/:project/logs', path: '/api/v1/projects/{alpha}/logs', expect: onAlpha('viewer', 200) },
  { route: 'DELETE /api/v1/projects/:project', path: '/api/v1/projects/{gone}', expect: onAlpha('owner', 200) },
  { route: 'POST /api/v1/projects/:project/rollback', path: '/api/v1/projects/{alpha}/rollback', body: () => ({}), expect: onAlpha('developer', 200) }, // 200 to a running standby (routing switches), 201 when a release has to start
  { route: 'POST /api/v1/projects/:project/scale', path: '/api/v1/projects/{alpha}/scale', body: () => ({ replicas: 1 }), expect: onAlpha('developer', 200) },
  {
    route: 'POST /api/v1/projects/:project/env/unset',
    path: '/api/v1/projects/{alpha}/env/unset',
    body: () => ({ keys: ['{ukey}'] }),
    expect: onAlpha('developer', 200),
  },
  { route: 'GET /api/v1/projects/:project/events', path: '/api/v1/projects/{alpha}/events', expect: onAlpha('viewer', 200) },
  {
    route: 'POST /api/v1/projects/:project/domains',
    path: '/api/v1/projects/{alpha}/domains',
    body: (p) => ({ hostname: `${p}.matrix.example.com` }),
    expect: onAlpha('developer', 201),
  },
  { route: 'GET /api/v1/projects/:project/domains', path: '/api/v1/projects/{alpha}/domains', expect: onAlpha('viewer', 200) },
  { route: 'GET /api/v1/projects/:project/domains/:hostname', path: '/api/v1/projects/{alpha}/domains/owner.matrix.example.com', expect: onAlpha('viewer', 200) },
  {
    route: 'DELETE /api/v1/projects/:project/domains/:hostname',
    path: '/api/v1/projects/{alpha}/domains/developer.matrix.example.com',
    note: 'deletes are for owners: the owner removes the one the developer added; after that it is gone',
    expect: { ...onAlpha('owner', 200), admin: 404 },
  },
  { route: 'POST /api/v1/tokens', path: '/api/v1/tokens', body: () => ({ name: 'matrix' }), expect: anyUser(201, 403) },
  { route: 'GET /api/v1/tokens', path: '/api/v1/tokens', expect: anyUser(200, 403) },
  {
    route: 'DELETE /api/v1/tokens/:id',
    path: '/api/v1/tokens/{victim}',
    note: "only the token's own user revokes it; to anyone else it does not exist",
    expect: { ...anyUser(404, 403), owner: 200 },
  },
  { route: 'POST /api/v1/join-tokens', path: '/api/v1/join-tokens', body: () => ({}), expect: adminOnly(201) },
  { route: 'GET /api/v1/nodes', path: '/api/v1/nodes', expect: adminOnly(200) },
  { route: 'GET /api/v1/nodes/:node', path: '/api/v1/nodes/{bystander}', expect: adminOnly(200) },
  { route: 'POST /api/v1/nodes/:node/drain', path: '/api/v1/nodes/{bystander}/drain', expect: adminOnly(200) },
  {
    route: 'POST /api/v1/tasks/:id/logs',
    path: '/api/v1/tasks/{task}/logs',
    note: "another node's task: 404",
    body: () => ({ entries: [{ seq: 1, ts: 0, stream: 'stdout', line: 'forged' }] }),
    expect: nodeOnly(404),
  },
  {
    route: 'POST /scheduler/v1/nodes/register',
    path: '/scheduler/v1/nodes/register',
    body: (p) => ({ name: `joined-by-${p}`, ...TINY_NODE }),
    expect: { ...everyone(401), join: 201 },
  },
  {
    route: 'POST /scheduler/v1/nodes/:id/heartbeat',
    path: '/scheduler/v1/nodes/{agentNode}/heartbeat',
    note: "the node that ran alpha's tasks: only its own credential",
    body: () => ({ appliedGeneration: 0, tasks: [] }),
    expect: everyone(401),
  },
  {
    route: 'POST /scheduler/v1/nodes/:id/heartbeat',
    path: '/scheduler/v1/nodes/{bystander}/heartbeat',
    note: 'its own node id',
    body: () => ({ appliedGeneration: 0, tasks: [] }),
    expect: nodeOnly(200),
  },
  { route: 'GET /scheduler/v1/jwks', path: '/scheduler/v1/jwks', expect: everyone(200) },
  { route: 'GET /.well-known/jwks.json', path: '/.well-known/jwks.json', expect: everyone(200) },
  {
    route: 'GET /registry/v1/blobs/:digest',
    path: '/registry/v1/blobs/{digest}',
    note: "alpha's artifact: viewers of alpha; a node only while it runs a task of it",
    expect: { ...onAlpha('viewer', 200), node: 404 },
  },
  { route: 'GET /install.sh', path: '/install.sh', expect: everyone(200) },
  // People and roles (issue 12). {invite} a pending invite of alpha, {inviteToken} another one's
  // secret, {acceptToken} a viewer invite of alpha for this principal alone, {member} a viewer of
  // alpha for this principal alone, {mia} a developer of alpha, {dora} a user of no project.
  {
    route: 'POST /api/v1/projects/:project/invites',
    path: '/api/v1/projects/{alpha}/invites',
    body: () => ({ role: 'viewer' }),
    expect: onAlpha('owner', 201),
  },
  { route: 'GET /api/v1/projects/:project/invites', path: '/api/v1/projects/{alpha}/invites', expect: onAlpha('owner', 200) },
  {
    route: 'DELETE /api/v1/projects/:project/invites/:id',
    path: '/api/v1/projects/{alpha}/invites/{invite}',
    note: 'revoking twice answers the revoked invite again',
    expect: onAlpha('owner', 200),
  },
  {
    route: 'GET /api/v1/invites/:token',
    path: '/api/v1/invites/{inviteToken}',
    note: 'the link is the credential: anyone holding it sees what it offers',
    showsProjectName: true,
    expect: everyone(200),
  },
  {
    route: 'POST /api/v1/invites/:token/accept',
    path: '/api/v1/invites/{acceptToken}/accept',
    note: 'any person signed in with a global credential; a higher role already held is kept',
    expect: anyUser(200, 403),
  },
  { route: 'GET /api/v1/projects/:project/members', path: '/api/v1/projects/{alpha}/members', expect: onAlpha('viewer', 200) },
  {
    route: 'PUT /api/v1/projects/:project/members/:user',
    path: '/api/v1/projects/{alpha}/members/{mia}',
    body: () => ({ role: 'viewer' }),
    expect: onAlpha('owner', 200),
  },
  { route: 'DELETE /api/v1/projects/:project/members/:user', path: '/api/v1/projects/{alpha}/members/{member}', expect: onAlpha('owner', 200) },
  { route: 'GET /api/v1/users', path: '/api/v1/users', expect: adminOnly(200) },
  { route: 'POST /api/v1/users/:user/disable', path: '/api/v1/users/{dora}/disable', expect: adminOnly(200) },
  { route: 'POST /api/v1/users/:user/enable', path: '/api/v1/users/{dora}/enable', expect: adminOnly(200) },
  { route: 'GET /.well-known/openid-configuration', path: '/.well-known/openid-configuration', expect: everyone(200) },
  // The OAuth endpoints take no bearer: credentials are form parameters, so a caller's token changes nothing (none sent here: 400).
  { route: 'POST /oauth/device_authorization', path: '/oauth/device_authorization', note: 'no form body', expect: everyone(400) },
  { route: 'POST /oauth/token', path: '/oauth/token', note: 'no form body', expect: everyone(400) },
  { route: 'POST /oauth/revoke', path: '/oauth/revoke', note: 'no form body', expect: everyone(400) },
  {
    route: 'GET /api/v1/device',
    path: '/api/v1/device?user_code=BCDF-GHJK',
    note: 'a code nobody requested; project-scoped tokens may not approve sign-ins',
    expect: anyUser(404, 403),
  },
  { route: 'POST /api/v1/device/approve', path: '/api/v1/device/approve', body: () => ({ userCode: 'BCDF-GHJK' }), expect: anyUser(404, 403) },
  { route: 'POST /api/v1/device/deny', path: '/api/v1/device/deny', body: () => ({ userCode: 'BCDF-GHJK' }), expect: anyUser(404, 403) },
  { route: 'POST /api/v1/admin/catalog-keys/rotate', path: '/api/v1/admin/catalog-keys/rotate', expect: adminOnly(200) },
  {
    route: 'POST /scheduler/v1/nodes/:id/identity-tokens',
    path: '/scheduler/v1/nodes/{agentNode}/identity-tokens',
    note: "the node that runs alpha's task: only its own credential",
    body: () => ({ taskIds: ['{task}'] }),
    expect: everyone(401),
  },
  {
    route: 'POST /scheduler/v1/nodes/:id/identity-tokens',
    path: '/scheduler/v1/nodes/{bystander}/identity-tokens',
    note: "its own node id, alpha's task (another node's): no token",
    body: () => ({ taskIds: ['{task}'] }),
    expect: nodeOnly(404),
  },
  // Passkeys (issue 12). The ceremonies' second halves need a challenge this run never made: 400 for all.
  {
    route: 'POST /api/v1/webauthn/registration/options',
    path: '/api/v1/webauthn/registration/options',
    body: () => ({}),
    note: 'an empty body asks to add a passkey to the signed-in user: only a dashboard session may',
    expect: { ...anyUser(403), cookie: 200 },
  },
  {
    route: 'POST /api/v1/webauthn/registration',
    path: '/api/v1/webauthn/registration',
    body: () => ({ challengeId: 'cnothere', response: { id: 'AA', rawId: 'AA', type: 'public-key', response: { clientDataJSON: 'AA', attestationObject: 'AA' } } }),
    expect: everyone(400),
  },
  { route: 'POST /api/v1/webauthn/authentication/options', path: '/api/v1/webauthn/authentication/options', body: () => ({}), note: 'anyone may start a sign-in', expect: everyone(200) },
  {
    route: 'POST /api/v1/webauthn/authentication',
    path: '/api/v1/webauthn/authentication',
    body: () => ({ challengeId: 'cnothere', response: { id: 'AA', rawId: 'AA', type: 'public-key', response: { clientDataJSON: 'AA', authenticatorData: 'AA', signature: 'AA' } } }),
    expect: everyone(400),
  },
  {
    route: 'POST /api/v1/sessions/recover',
    path: '/api/v1/sessions/recover',
    // Wrong codes are limited per name (5 per 15 minutes, test/e2e/guess-limits.test.ts): a name per
    // principal keeps every one of them at the code check this row is about.
    body: (p) => ({ name: `nobody-${p}`, code: 'aaaa-bbbb' }),
    expect: everyone(401),
  },
  { route: 'GET /api/v1/passkeys', path: '/api/v1/passkeys', note: "one's own; not with a project-scoped token", expect: anyUser(200, 403) },
  { route: 'DELETE /api/v1/passkeys/:id', path: '/api/v1/passkeys/nothere', expect: anyUser(404, 403) },
  { route: 'POST /api/v1/recovery-codes', path: '/api/v1/recovery-codes', expect: anyUser(201, 403) },
  // Builds (issue 13). {build} an ended build of alpha. The matrix stack has no builder node (a valid
  // request would be 503 no_builder, covered by test/e2e/builds.test.ts): the row asks for a source
  // alpha does not own, which the role check lets through to a 404.
  {
    route: 'POST /api/v1/projects/:project/builds',
    path: '/api/v1/projects/{alpha}/builds',
    note: 'a source alpha does not own: 404 artifact_not_found after the role check',
    body: () => ({ sourceDigest: `sha256:${'e'.repeat(64)}` }),
    expect: onAlpha('developer', 404),
  },
  { route: 'GET /api/v1/projects/:project/builds', path: '/api/v1/projects/{alpha}/builds', expect: onAlpha('viewer', 200) },
  { route: 'GET /api/v1/builds/:id', path: '/api/v1/builds/{build}', expect: onAlpha('viewer', 200) },
  { route: 'GET /api/v1/builds/:id/logs', path: '/api/v1/builds/{build}/logs', expect: onAlpha('viewer', 200) },
  { route: 'POST /api/v1/builds/:id/cancel', path: '/api/v1/builds/{build}/cancel', note: 'an ended build is answered unchanged', expect: onAlpha('developer', 200) },
  {
    route: 'POST /scheduler/v1/nodes/:id/builds/claim',
    path: '/scheduler/v1/nodes/{bystander}/builds/claim',
    note: 'its own node id, but the node has no builder label',
    expect: nodeOnly(403),
  },
  {
    route: 'POST /scheduler/v1/builds/:id/report',
    path: '/scheduler/v1/builds/{build}/report',
    note: "another node's build: 404",
    body: () => ({ lines: [{ seq: 1, at: 0, stream: 'stdout', line: 'forged' }] }),
    expect: nodeOnly(404),
  },
  { route: 'GET /scheduler/v1/builds/:id/source', path: '/scheduler/v1/builds/{build}/source', expect: nodeOnly(404) },
  { route: 'GET /scheduler/v1/builds/:id/cache', path: '/scheduler/v1/builds/{build}/cache', expect: nodeOnly(404) },
  { route: 'PUT /scheduler/v1/builds/:id/cache', path: '/scheduler/v1/builds/{build}/cache', upload: true, expect: nodeOnly(404) },
  { route: 'PUT /scheduler/v1/builds/:id/artifact', path: '/scheduler/v1/builds/{build}/artifact', upload: true, expect: nodeOnly(404) },
];
