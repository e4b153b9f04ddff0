/**
 * `npm run setup`: prints the one-time link that enrols the first admin's passkey on a deployed
 * control plane, <PUBLIC_URL>/setup#<token> (the token stays in the fragment: it never reaches a
 * server log). Needs DATABASE_URL (the owner URL, as for npm run migrate) and PUBLIC_URL (the
 * Worker's origin). The link works once, for 24 hours, and only while no admin has a passkey.
 * The alternative without database access: `npx wrangler secret put SETUP_SECRET`, then open
 * <PUBLIC_URL>/setup#<that secret>.
 */
import { setupPath } from '../protocol/index.js';
import { dbOptionsFromEnv } from '../sql/connect.js';
import { createSetupToken } from './bootstrap.js';

function origin(raw: string | undefined): string {
  if (!raw || !URL.canParse(raw) || !/^https?:$/.test(new URL(raw).protocol)) {
    throw new Error(`PUBLIC_URL must be the origin the dashboard is reached at, e.g. https://zectre.example.com (got "${raw ?? ''}")`);
  }
  return new URL(raw).origin;
}

try {
  const base = origin(process.env.PUBLIC_URL);
  const token = await createSetupToken(dbOptionsFromEnv());
  if (!token) {
    console.log('an admin already has a passkey: nothing to set up. Sign in at ' + base + '/ (or with a recovery code at ' + base + '/recover)');
  } else {
    console.log(`Open this link within 24 hours to create the first admin with a passkey (it works once):\n\n  ${base}${setupPath(token)}\n`);
  }
} catch (err) {
  const e = err as Error & { code?: string };
  const hint = e.code === '42P01' ? ' (the schema is missing the setup tables: run npm run migrate first)' : '';
  console.error(`setup: ${e.message}${hint}`);
  process.exit(1);
}
