import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { TaskUsers } from './task-users.js';
import { tempDir } from './test-support.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
before(async () => {
  dir = await tempDir('uids');
  for (const sub of ['accounts', 'small', 'nonroot']) mkdirSync(join(dir.path, sub));
});
after(() => dir.remove());

test('each project gets its own uid from the range, kept across a restart in a file only the agent reads', () => {
  const users = TaskUsers.open(dir.path, [250_000, 250_009], true);
  const a = users.userFor('alpha')!;
  const b = users.userFor('beta')!;
  assert.deepEqual(a, { uid: 250_000, gid: 250_000 });
  assert.deepEqual(b, { uid: 250_001, gid: 250_001 });
  assert.deepEqual(users.userFor('alpha'), a, 'stable');
  const file = join(dir.path, 'uids.json');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), { alpha: 250_000, beta: 250_001 });
  const restarted = TaskUsers.open(dir.path, [250_000, 250_009], true);
  assert.deepEqual(restarted.userFor('beta'), b, 'a restarted agent keeps the mapping');
  assert.deepEqual(restarted.userFor('gamma'), { uid: 250_002, gid: 250_002 }, 'and does not hand out a taken uid');
});

test('uids of real accounts are skipped; an exhausted range fails with the setting to change', () => {
  const accounts = new Set(readFileSync('/etc/passwd', 'utf8').split('\n').map((l) => Number(l.split(':')[2])));
  const expected = [...Array(100_000).keys()].find((uid) => !accounts.has(uid))!;
  const users = TaskUsers.open(join(dir.path, 'accounts'), [0, 99_999], true);
  assert.deepEqual(users.userFor('p'), { uid: expected, gid: expected }, 'root (0) and every account in /etc/passwd are skipped');
  assert.ok(expected > 0);
  const small = TaskUsers.open(join(dir.path, 'small'), [260_000, 260_000], true);
  small.userFor('one');
  assert.throws(() => small.userFor('two'), /no free uid for project "two": all of ZECTRE_AGENT_UID_RANGE=260000-260000 are taken/);
});

test('an agent that is not root shares its uid with its tasks', () => {
  const users = TaskUsers.open(join(dir.path, 'nonroot'), [200_000, 299_999], false);
  assert.equal(users.isolating, false);
  assert.equal(users.userFor('alpha'), undefined);
});
