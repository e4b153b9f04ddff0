/**
 * A database role for one VM's proxy (issue 11.3): a member of zectre_proxy (migration 010), so it
 * reads only the `routing` views and writes only its own `proxies` rows. Running it again for the
 * same name sets a new password (rotation); the old one stops working at once.
 */
import { randomBytes } from 'node:crypto';
import { createClient, type DbOptions } from './connect.js';

export interface ProxyRole {
  role: string;
  /** The control plane's DATABASE_URL with this role's name and password: what the proxy is given. */
  databaseUrl: string;
}

/** zectre_proxy_<name>, lower case, within PostgreSQL's 63-byte identifier limit. */
export function proxyRoleName(name: string): string {
  const clean = name.toLowerCase().replace(/[^a-z0-9_]+/g, '_').replace(/^_+|_+$/g, '');
  if (!clean) throw new Error(`proxy name "${name}" has no letters or digits: use the VM's host name, e.g. vm-1`);
  return `zectre_proxy_${clean}`.slice(0, 63);
}

/** Creates or re-keys the role. `password: null` makes one without a password (trust-auth local stacks). */
export async function createProxyRole(opts: DbOptions, name: string, password: string | null = randomBytes(24).toString('base64url')): Promise<ProxyRole> {
  const role = proxyRoleName(name);
  const client = createClient(opts);
  await client.connect();
  try {
    const exists = (await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rowCount! > 0;
    const verb = exists ? 'ALTER ROLE %I LOGIN' : 'CREATE ROLE %I LOGIN';
    const auth = password === null ? ' PASSWORD NULL' : ' PASSWORD %L';
    for (const template of [verb + auth, 'GRANT zectre_proxy TO %I']) {
      const { rows } = await client.query<{ sql: string }>('SELECT format($1, $2::text, $3::text) AS sql', [template, role, password]);
      await client.query(rows[0]!.sql);
    }
  } finally {
    await client.end();
  }
  const url = new URL(opts.databaseUrl);
  url.username = role;
  url.password = password ?? '';
  return { role, databaseUrl: url.toString() };
}
