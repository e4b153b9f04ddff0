/** `npm run migrate`: applies pending migrations to DATABASE_URL (through ZECTRE_DB_WS_PROXY when set). */
import { dbOptionsFromEnv } from './connect.js';
import { migrate } from './migrate.js';

try {
  const applied = await migrate(dbOptionsFromEnv());
  console.log(applied.length ? `applied ${applied.join(', ')}` : 'schema is up to date');
} catch (err) {
  console.error(`migrate: ${(err as Error).message}`);
  process.exit(1);
}
