import { connect } from 'node:net';

/** The database tests and benches use: ZECTRE_TEST_DB if set, else PostgreSQL at 127.0.0.1:5432 when it answers, else PGlite. */
export async function localDatabaseKind(): Promise<'postgres' | 'pglite'> {
  const set = process.env.ZECTRE_TEST_DB;
  if (set === 'postgres' || set === 'pglite') return set;
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port: 5432, timeout: 1500 });
    s.once('connect', () => (s.destroy(), resolve('postgres')));
    s.once('error', () => resolve('pglite'));
    s.once('timeout', () => (s.destroy(), resolve('pglite')));
  });
}
