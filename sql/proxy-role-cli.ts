/**
 * `npm run proxy-role -- NAME`: creates (or re-keys) the database role for the proxy on VM NAME and
 * prints the DATABASE_URL to give that proxy (install.sh --proxy-database-url). Needs the control
 * plane's DATABASE_URL (an owner of the schema) in the environment, like `npm run migrate`.
 */
import { dbOptionsFromEnv } from './connect.js';
import { createProxyRole } from './proxy-role.js';

const name = process.argv[2];
if (!name || name.startsWith('-')) {
  console.error('usage: npm run proxy-role -- NAME   (NAME: the VM, e.g. vm-1; prints the DATABASE_URL for its proxy)');
  process.exit(64);
}
try {
  const { role, databaseUrl } = await createProxyRole(dbOptionsFromEnv(), name);
  console.error(`role ${role}: reads the routing views and writes its own proxies rows, nothing else`);
  console.log(databaseUrl);
} catch (err) {
  console.error(`proxy-role: ${(err as Error).message}`);
  process.exit(1);
}
