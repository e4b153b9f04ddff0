/** Bad input against the Worker running in workerd: every case is a 4xx `{error:{code,message}}`, never a 500. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Stack } from '../../dev/stack.js';

export function badInputTests(getStack: () => Stack): void {
  describe('bad input gets a clear 4xx JSON error', () => {
    const call = async (method: string, path: string, opts: { body?: BodyInit; token?: string | null; headers?: Record<string, string> } = {}) => {
      const stack = getStack();
      const token = opts.token === undefined ? stack.adminToken : opts.token;
      const res = await fetch(`${stack.apiUrl}${path}`, {
        method,
        body: opts.body,
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...opts.headers },
      });
      const text = await res.text();
      let body: { error?: { code?: string; message?: string } };
      try {
        body = JSON.parse(text);
      } catch {
        assert.fail(`${method} ${path}: answer is not JSON: ${res.status} ${text.slice(0, 200)}`);
      }
      return { status: res.status, code: body.error?.code, message: body.error?.message ?? '' };
    };
    const expect = (got: { status: number; code?: string; message: string }, status: number, code: string) => {
      assert.equal(got.status, status, `expected ${status} ${code}, got ${got.status} ${got.code}: ${got.message}`);
      assert.equal(got.code, code);
      assert.ok(got.message.length > 0, 'error message is empty');
      assert.doesNotMatch(got.message, /\bat .*\.(ts|js):\d+/, 'error message leaks a stack trace');
    };

    test('invalid JSON', async () => expect(await call('POST', '/api/v1/projects', { body: '{"name": ' }), 400, 'invalid_json'));
    test('missing fields', async () => {
      const got = await call('POST', '/api/v1/projects/hello/deployments', { body: '{}' });
      expect(got, 400, 'invalid_request');
      assert.match(got.message, /artifact/);
      assert.match(got.message, /command/);
    });
    test('a project name that cannot be a host name', async () =>
      expect(await call('POST', '/api/v1/projects', { body: JSON.stringify({ name: 'Bad--Name' }) }), 400, 'invalid_request'));
    test('a duplicate project', async () =>
      expect(await call('POST', '/api/v1/projects', { body: JSON.stringify({ name: 'hello' }) }), 409, 'project_exists'));
    test('unknown project', async () => {
      const got = await call('GET', '/api/v1/projects/no-such-project');
      expect(got, 404, 'project_not_found');
      assert.match(got.message, /no-such-project/);
    });
    test('unknown deployment and unknown route', async () => {
      expect(await call('GET', '/api/v1/deployments/dnope'), 404, 'deployment_not_found');
      expect(await call('GET', '/api/v1/nothing-here'), 404, 'route_not_found');
    });
    test('digest mismatch on upload', async () => {
      const gz = new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
      const got = await call('PUT', '/api/v1/projects/hello/artifacts', { body: gz, headers: { 'content-type': 'application/gzip', 'x-zectre-digest': `sha256:${'a'.repeat(64)}` } });
      expect(got, 400, 'digest_mismatch');
      assert.match(got.message, /hash to sha256:[0-9a-f]{64}/);
    });
    test('an upload that is not gzip', async () =>
      expect(await call('PUT', '/api/v1/projects/hello/artifacts', { body: 'plain text', headers: { 'content-type': 'application/gzip' } }), 400, 'invalid_artifact'));
    test('deploying an artifact the registry does not have', async () => {
      const got = await call('POST', '/api/v1/projects/hello/deployments', { body: JSON.stringify({ artifact: `sha256:${'b'.repeat(64)}`, command: 'node server.js' }) });
      expect(got, 404, 'artifact_not_found');
      assert.match(got.message, /sha256:bbbb.*not found in the registry of hello/);
    });
    test('missing token and wrong token', async () => {
      expect(await call('GET', '/api/v1/projects', { token: null }), 401, 'unauthorized');
      expect(await call('GET', '/api/v1/projects', { token: 'zt_not-a-real-token' }), 401, 'unauthorized');
      expect(await call('POST', '/scheduler/v1/nodes/register', { token: 'zj_wrong', body: JSON.stringify({ name: 'x', address: '127.0.0.1', capacity: { cpuMillis: 1, memoryMb: 1 } }) }), 401, 'invalid_join_token');
      expect(await call('POST', '/scheduler/v1/nodes/nfake/heartbeat', { token: 'zn_wrong', body: JSON.stringify({ appliedGeneration: 0, tasks: [] }) }), 401, 'unknown_node');
      expect(await call('GET', `/registry/v1/blobs/sha256:${'c'.repeat(64)}`, { token: 'zn_wrong' }), 401, 'unknown_node');
    });
    test('an API token cannot pose as a node', async () =>
      expect(await call('POST', '/api/v1/tasks/tnope/logs', { body: JSON.stringify({ entries: [{ seq: 1, ts: 0, stream: 'stdout', line: 'x' }] }) }), 401, 'unknown_node'));
    test('oversized bodies', async () => {
      const big = JSON.stringify({ vars: { BIG: 'x'.repeat(2 * 1024 * 1024) } });
      expect(await call('PUT', '/api/v1/projects/hello/env', { body: big }), 413, 'payload_too_large');
      const value = await call('PUT', '/api/v1/projects/hello/env', { body: JSON.stringify({ vars: { BIG: 'x'.repeat(70_000) } }) });
      expect(value, 400, 'invalid_request');
    });
    test('bad env var names and a bad log cursor', async () => {
      expect(await call('PUT', '/api/v1/projects/hello/env', { body: JSON.stringify({ vars: { '1BAD': 'v' } }) }), 400, 'invalid_request');
      expect(await call('GET', '/api/v1/projects/hello/logs?after=abc'), 400, 'invalid_request');
      expect(await call('DELETE', '/api/v1/projects/hello/env/NOPE'), 404, 'env_var_not_found');
    });
    test('stored data survives the bad requests', async () => {
      const got = await fetch(`${getStack().apiUrl}/api/v1/projects/hello`, { headers: { authorization: `Bearer ${getStack().adminToken}` } });
      assert.equal(got.status, 200);
      const project = (await got.json()) as { liveDeploymentId: string | null; liveDeployment: { status: string } | null };
      assert.ok(project.liveDeploymentId);
      assert.equal(project.liveDeployment?.status, 'live');
    });
  });
}
