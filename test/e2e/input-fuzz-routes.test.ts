/** The fuzz must reach every route that reads input: a new or moved route without a generator fails here. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ROUTES } from '../../edge/index.js';
import { requestArbitrary } from './input-fuzz-requests.js';

/** Routes that read no body, query or path parameter. */
const NO_INPUT = new Set([
  'GET /healthz', 'GET /install.sh', 'GET /scheduler/v1/jwks', 'GET /.well-known/jwks.json', 'GET /api/v1/whoami', 'GET /api/v1/projects', 'GET /api/v1/tokens', 'GET /api/v1/nodes',
  'GET /api/v1/users',
]);

test('the input fuzz generates requests for every route of edge/index.ts that reads input', () => {
  const targets = { project: 'p', deploymentIds: ['d1'], taskId: 't1', nodeId: 'n1', nodeName: 'node', digest: `sha256:${'0'.repeat(64)}`, adminToken: 'zt_x' };
  const generated = new Set(fc.sample(requestArbitrary(targets), { seed: 1, numRuns: 20_000 }).map((r) => r.route));
  const missing = ROUTES.filter((route) => !NO_INPUT.has(route) && !generated.has(route));
  assert.deepEqual(missing, [], `routes the fuzz never calls: ${missing.join(', ')}`);
  const unknown = [...generated].filter((route) => !ROUTES.includes(route));
  assert.deepEqual(unknown, [], `generators for routes that do not exist: ${unknown.join(', ')}`);
});
