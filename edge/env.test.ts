import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isLocalStack, publicUrl, type Env } from './env.js';
import { HttpError } from './http.js';

const is503 = (code: string, message: RegExp) => (err: unknown) =>
  err instanceof HttpError && err.status === 503 && err.code === code && message.test(err.message);

test('publicUrl is PUBLIC_URL as an origin, and a 503 naming the setting without it', () => {
  assert.equal(publicUrl({ PUBLIC_URL: 'https://zectre.example.com/' } as Env), 'https://zectre.example.com');
  assert.throws(() => publicUrl({} as Env), is503('public_url_not_set', /PUBLIC_URL/));
  assert.throws(() => publicUrl({ PUBLIC_URL: 'zectre.example.com' } as Env), is503('public_url_not_set', /PUBLIC_URL="zectre\.example\.com"/));
});

test('the local stack needs its flag and a loopback PUBLIC_URL; the flag with a public URL is refused', () => {
  assert.equal(isLocalStack({ PUBLIC_URL: 'http://127.0.0.1:8787' } as Env), false);
  assert.equal(isLocalStack({ ZECTRE_LOCAL_STACK: '1', PUBLIC_URL: 'http://127.0.0.1:8787' } as Env), true);
  assert.equal(isLocalStack({ ZECTRE_LOCAL_STACK: '1', PUBLIC_URL: 'http://localhost:8787' } as Env), true);
  assert.equal(isLocalStack({ ZECTRE_LOCAL_STACK: '1', PUBLIC_URL: 'http://[::1]:8787' } as Env), true);
  assert.throws(() => isLocalStack({ ZECTRE_LOCAL_STACK: '1', PUBLIC_URL: 'https://zectre.example.com' } as Env),
    is503('local_stack_misconfigured', /ZECTRE_LOCAL_STACK/));
  assert.throws(() => isLocalStack({ ZECTRE_LOCAL_STACK: '1', PUBLIC_URL: 'http://127.0.0.1.example.com' } as Env),
    is503('local_stack_misconfigured', /loopback/));
});

test('publicUrl refuses an origin install.sh could not quote', () => {
  assert.throws(() => publicUrl({ PUBLIC_URL: 'http://a"b.example.com' } as Env), is503('public_url_not_set', /not an http\(s\) URL/));
});
