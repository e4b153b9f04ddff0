/**
 * `npm run bench:routes`: how fast a routing change reaches the proxy. 200 times, the live
 * deployment of a project is switched the way the control plane does it (update + epoch bump +
 * NOTIFY in one transaction); a client polls the real proxy process back-to-back on keep-alive
 * connections, and the time from COMMIT returning to the first answer from the new backend is
 * recorded. Goal: p99 under 100 ms. Database: PostgreSQL at 127.0.0.1:5432 if it answers (NOTIFY
 * path), else PGlite (no cross-connection NOTIFY: the 1 s epoch poll is the only path there).
 */
import { Pool } from 'undici';
import { createTestDb, seedNode, seedProject, seedTask, setLive, startBackend } from '../node-proxy/testing.js';
import { localDatabaseKind } from './database-kind.js';
import { startProxyProcess } from './bench-proxy-process.js';

const CHANGES = Number(process.env.CHANGES ?? 200);
const DOMAIN = 'bench.test';

// testing.ts's createTestDb() reads the choice from ZECTRE_TEST_DB.
process.env.ZECTRE_TEST_DB = await localDatabaseKind();
const t = await createTestDb();
const backends = [await startBackend('blue'), await startBackend('green')];
let proxy: Awaited<ReturnType<typeof startProxyProcess>> | undefined;
try {
  const node = await seedNode(t);
  const project = await seedProject(t, 'flip', 2);
  for (const [i, b] of backends.entries()) await seedTask(t, project.deploymentIds[i]!, node, b.port);
  await setLive(t, project.projectId, project.deploymentIds[0]!, true);
  proxy = await startProxyProcess(t.db, DOMAIN);
  const client = new Pool(`http://127.0.0.1:${proxy.port}`, { connections: 1 });
  const ask = async () => {
    const res = await client.request({ path: '/', method: 'GET', headers: { host: `flip.${DOMAIN}` } });
    return res.statusCode === 200 ? ((await res.body.json()) as { backend: string }).backend : (await res.body.dump(), '');
  };
  const latencies: number[] = [];
  for (let i = 1; i <= CHANGES; i++) {
    const want = backends[i % 2]!.name;
    await setLive(t, project.projectId, project.deploymentIds[i % 2]!, true);
    const committed = performance.now();
    while ((await ask()) !== want) {
      if (performance.now() - committed > 10_000) throw new Error(`change ${i} not served after 10 s`);
    }
    latencies.push(performance.now() - committed);
  }
  await client.close();
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)]!;
  console.log(`bench:routes on ${t.kind}: ${CHANGES} route changes, commit -> proxy serving the new route`);
  console.log(`  p50 ${pct(50).toFixed(1)} ms   p99 ${pct(99).toFixed(1)} ms   max ${latencies.at(-1)!.toFixed(1)} ms   (goal: p99 < 100 ms: ${pct(99) < 100 ? 'met' : 'NOT met'})`);
  if (t.kind === 'pglite') console.log('  note: PGlite delivers no NOTIFY across connections; these are epoch-poll (1 s) latencies.');
} finally {
  await proxy?.child.stop();
  for (const b of backends) await b.kill();
  await t.drop();
}
