import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Env } from '../env.js';
import { HttpError } from '../http.js';
import { pushUrlProblem, requirePushUrl } from './push-url.js';

const deployed = { APPS_DOMAIN: 'apps.example.com', PUBLIC_URL: 'https://zectre.example.com' } as Env;
const local = { APPS_DOMAIN: 'zectre.localhost', PUBLIC_URL: 'http://127.0.0.1:8787', ZECTRE_LOCAL_STACK: '1' } as Env;

test('outside the local stack a push URL must be https into the nodes domain', () => {
  assert.equal(pushUrlProblem(deployed, 'https://n123.nodes.apps.example.com/v1/desired-state'), null);
  assert.match(pushUrlProblem(deployed, 'http://n123.nodes.apps.example.com/v1/desired-state')!, /must use https.*env values/);
  assert.match(pushUrlProblem(deployed, 'https://listener.attacker.test/steal')!, /must point into nodes\.apps\.example\.com .*not listener\.attacker\.test/);
  // A look-alike suffix is not below the domain.
  assert.match(pushUrlProblem(deployed, 'https://evilnodes.apps.example.com/')!, /must point into/);
  assert.match(pushUrlProblem(deployed, 'https://nodes.apps.example.com.attacker.test/')!, /must point into/);
  assert.match(pushUrlProblem(deployed, 'https://u:p@n1.nodes.apps.example.com/')!, /user name or password/);
  assert.match(pushUrlProblem(deployed, 'ftp://n1.nodes.apps.example.com/')!, /http\(s\) URL/);
});

test('PUSH_URL_DOMAINS replaces the default domain', () => {
  const env = { ...deployed, PUSH_URL_DOMAINS: 'push.example.net, .edge.example.org' } as Env;
  assert.equal(pushUrlProblem(env, 'https://a.push.example.net/x'), null);
  assert.equal(pushUrlProblem(env, 'https://edge.example.org/x'), null);
  assert.match(pushUrlProblem(env, 'https://n1.nodes.apps.example.com/x')!, /push\.example\.net or edge\.example\.org/);
});

test('the local stack allows plain http to any host, still not other schemes', () => {
  assert.equal(pushUrlProblem(local, 'http://127.0.0.1:7070/v1/desired-state'), null);
  assert.equal(pushUrlProblem(local, 'https://n1.nodes.zectre.test/v1/desired-state'), null);
  assert.match(pushUrlProblem(local, 'file:///etc/passwd')!, /http\(s\) URL/);
});

test('requirePushUrl is a 400 naming the rule', () => {
  assert.throws(() => requirePushUrl(deployed, 'http://10.0.0.1:7070/'), (err: unknown) =>
    err instanceof HttpError && err.status === 400 && err.code === 'invalid_push_url' && /https/.test(err.message));
});
