/**
 * `npm test`: every *.test.ts in the repository, in one run of Node's test runner. Decides the
 * database first: the PostgreSQL at 127.0.0.1:5432 when it answers, else embedded PGlite.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { localDatabaseKind } from '../dev/database-kind.js';
import { ROOT } from '../dev/root.js';

const FOLDERS = ['protocol', 'sql', 'edge', 'node-agent', 'node-proxy', 'cli', 'dev', 'test'];

function findTests(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : findTests(path);
    return e.name.endsWith('.test.ts') ? [relative(ROOT, path)] : [];
  });
}

const db = await localDatabaseKind();
console.log(
  db === 'postgres'
    ? 'test database: PostgreSQL at 127.0.0.1:5432 (one database per suite); test/e2e/spine-pglite.test.ts also runs the end-to-end suite on embedded PGlite'
    : 'test database: embedded PGlite (no PostgreSQL answered at 127.0.0.1:5432)',
);
const files = FOLDERS.flatMap((f) => findTests(join(ROOT, f))).sort();
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...process.argv.slice(2), ...files], {
  cwd: ROOT,
  stdio: 'inherit',
  env: { ...process.env, ZECTRE_TEST_DB: db },
});
process.exit(result.status ?? 1);
