import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseChoice } from '../../dev/database.js';

/**
 * The database a test suite runs on: a throwaway database on the PostgreSQL at 127.0.0.1:5432, or
 * an embedded PGlite when ZECTRE_TEST_DB=pglite (test/run.ts sets that when no PostgreSQL answers).
 */
export function testDatabase(suite: string, kind = process.env.ZECTRE_TEST_DB ?? 'postgres'): DatabaseChoice {
  if (kind === 'pglite') return { kind: 'pglite', dataDir: join(mkdtempSync(join(tmpdir(), `zectre-${suite}-`)), 'pglite') };
  const name = `zectre_${suite.replace(/[^a-z0-9]/g, '_')}_${process.pid}_${Date.now().toString(36)}`;
  const base = process.env.ZECTRE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432';
  return { kind: 'postgres', url: `${base}/${name}`, throwaway: true };
}
