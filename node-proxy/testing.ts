/**
 * Test support for the proxy's integration tests: a fresh database (the suite's choice of
 * PostgreSQL or PGlite, behind the real WebSocket bridge, migrated with the real migrations), row builders for the
 * tables the proxy reads, and plain node:http backends and client.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, request, type IncomingHttpHeaders, type OutgoingHttpHeaders, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { newId } from '../protocol/index.js';
import { openDatabase, type LocalDatabase } from '../dev/database.js';
import { testDatabase } from '../test/support/database.js';
import { createPool, type DbOptions } from '../sql/connect.js';
import { ResponseParser, type ResponseHead } from './upstream/response-parser.js';

export interface TestDb {
  db: DbOptions;
  kind: LocalDatabase['kind'];
  /** Runs statements in one transaction. */
  tx(statements: [string, unknown[]?][]): Promise<unknown[][]>;
  /** Stops the bridge (the database becomes unreachable for the proxy) and starts it again on the same port. */
  stopBridge(): Promise<void>;
  restartBridge(): Promise<void>;
  drop(): Promise<void>;
}

export async function createTestDb(): Promise<TestDb> {
  const local = await openDatabase(testDatabase('proxy'));
  const db = local.options;
  const pool = createPool(db, 2);
  pool.on('error', () => {});
  return {
    db,
    kind: local.kind,
    async tx(statements) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const out: unknown[][] = [];
        for (const [text, params] of statements) out.push((await client.query(text, params)).rows);
        await client.query('COMMIT');
        return out;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      } finally {
        client.release();
      }
    },
    stopBridge: () => local.pauseBridge(),
    restartBridge: () => local.resumeBridge(),
    async drop() {
      await pool.end();
      await local.close();
    },
  };
}


/** Inserts a user, a project, an artifact and the given deployments; returns their ids. */
export async function seedProject(t: TestDb, slug: string, deployments: number): Promise<{ projectId: string; deploymentIds: string[] }> {
  const userId = newId('u');
  const projectId = newId('p');
  const digest = `sha256:${randomBytes(32).toString('hex')}`;
  const deploymentIds = Array.from({ length: deployments }, () => newId('d'));
  await t.tx([
    ['INSERT INTO users (id, name) VALUES ($1, $2)', [userId, `owner-${slug}`]],
    ['INSERT INTO projects (id, slug, created_by) VALUES ($1, $2, $3)', [projectId, slug, userId]],
    ['INSERT INTO artifacts (digest, size) VALUES ($1, 1)', [digest]],
    ...deploymentIds.map(
      (id): [string, unknown[]] => [
        `INSERT INTO deployments (id, project_id, artifact_digest, command, env_enc, replicas, health_check, resources, status, deadline_at)
         VALUES ($1, $2, $3, 'node server.js', '', 1, '{}', '{}', 'pending', now() + interval '1 hour')`,
        [id, projectId, digest],
      ],
    ),
  ]);
  return { projectId, deploymentIds };
}

export async function seedNode(t: TestDb, status: 'ready' | 'down' = 'ready'): Promise<string> {
  const id = newId('n');
  await t.tx([
    [
      `INSERT INTO nodes (id, name, address, cpu_millis, memory_mb, port_min, port_max, status, credential_hash)
       VALUES ($1, $1, '127.0.0.1', 1000, 1024, 1024, 65535, $2, $1)`,
      [id, status],
    ],
  ]);
  return id;
}

export async function seedTask(t: TestDb, deploymentId: string, nodeId: string, port: number, observed = 'healthy'): Promise<string> {
  const id = newId('t');
  await t.tx([
    [
      `INSERT INTO tasks (id, deployment_id, node_id, port, desired_state, observed_state) VALUES ($1, $2, $3, $4, 'running', $5)`,
      [id, deploymentId, nodeId, port, observed],
    ],
  ]);
  return id;
}

/** Switches the live deployment the way the control plane does: change + epoch bump (+ NOTIFY) in one transaction. */
export async function setLive(t: TestDb, projectId: string, deploymentId: string, notify: boolean): Promise<number> {
  const statements: [string, unknown[]?][] = [
    ['UPDATE projects SET live_deployment_id = $1 WHERE id = $2', [deploymentId, projectId]],
    ['UPDATE route_epoch SET epoch = epoch + 1 RETURNING epoch'],
  ];
  if (notify) statements.push(["SELECT pg_notify('zectre_routes', (SELECT epoch FROM route_epoch)::text)"]);
  const rows = await t.tx(statements);
  return Number((rows[1]![0] as { epoch: string }).epoch);
}

export interface Backend {
  name: string;
  port: number;
  /** Stops listening and cuts open connections: what a crashed app looks like. */
  kill(): Promise<void>;
}

/**
 * A backend app answering JSON `{ backend, method, url, headers, bodyLength }`. `GET /big?n=` answers
 * n bytes of 'x'; `/hang` never answers; `/hop` sets hop-by-hop response headers.
 */
/** A project whose one live release has one healthy task per port on `nodeId` (no NOTIFY unless asked). */
export async function seedLiveApp(t: TestDb, slug: string, nodeId: string, ports: number[], notify = false): Promise<{ projectId: string; deploymentId: string }> {
  const p = await seedProject(t, slug, 1);
  const deploymentId = p.deploymentIds[0]!;
  for (const port of ports) await seedTask(t, deploymentId, nodeId, port);
  await setLive(t, p.projectId, deploymentId, notify);
  return { projectId: p.projectId, deploymentId };
}

export async function startBackend(name: string): Promise<Backend> {
  const server: Server = createServer(async (req, res) => {
    let bodyLength = 0;
    for await (const chunk of req) bodyLength += (chunk as Buffer).length;
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/hang') return;
    if (url.pathname.startsWith('/status/')) return res.writeHead(Number(url.pathname.slice('/status/'.length))).end();
    if (url.pathname === '/big') {
      const n = Number(url.searchParams.get('n'));
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': n, 'x-backend': name });
      return res.end(Buffer.alloc(n, 'x'));
    }
    if (url.pathname === '/hop') res.setHeader('proxy-authenticate', 'Basic').setHeader('keep-alive', 'timeout=5');
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ backend: name, method: req.method, url: req.url, headers: req.headers, bodyLength }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    name,
    port: (server.address() as AddressInfo).port,
    kill: () => closeServer(server),
  };
}

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  json<T = Record<string, unknown>>(): T;
}

/** One request to the proxy with the given Host header, on a fresh connection. */
export function send(
  port: number,
  host: string,
  path = '/',
  opts: { method?: string; headers?: OutgoingHttpHeaders; body?: Buffer } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: { host, ...opts.headers }, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body.toString()) });
        });
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Polls `check` until it returns true; fails after `timeoutMs`. Waits are bounded, never asserted on. */
export async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** One request as a backend's node:http (strict) parser saw it. */
export interface ParsedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface RecordingBackend extends Backend {
  /** Every request parsed, on any connection, in the order their bodies ended. */
  requests: ParsedRequest[];
  /** Resolves once no connection to the backend is open (everything sent to it has been parsed). */
  idle(): Promise<void>;
}

/**
 * A node:http backend that records every request it parsed and answers each with
 * `{ method, url, bodyLength, body }` (body as latin1, so a client can tell the answer is to its own
 * request); `/hang…` never answers.
 */
export async function startRecordingBackend(name: string): Promise<RecordingBackend> {
  const requests: ParsedRequest[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of req) chunks.push(chunk as Buffer);
    } catch {
      return; // the proxy gave up on the upload
    }
    const body = Buffer.concat(chunks);
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
    if (req.url?.startsWith('/hang')) return;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ backend: name, method: req.method, url: req.url, bodyLength: body.length, body: body.toString('latin1') }));
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    name,
    port: (server.address() as AddressInfo).port,
    requests,
    idle: () => eventually(`${name} to have no open connection`, async () => sockets.size === 0),
    kill: () => closeServer(server),
  };
}

export interface RawResponse {
  status: number;
  /** Lower-case names; a repeated name keeps its last value. */
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * A client that writes exact bytes to the proxy and reads its answers with the upstream response
 * parser (strict, so a malformed answer fails the test). Answers are read in order; `next()` is null
 * once the connection is closed without (the rest of) an answer.
 */
export class RawClient {
  private readonly answers: RawResponse[] = [];
  private waiter: (() => void) | null = null;
  private current: { head: ResponseHead | null; chunks: Buffer[] } = { head: null, chunks: [] };
  private readonly parser: ResponseParser;
  closed = false;
  /** The connection ended; resolves when it does (use after the answers a test expects). */
  readonly whenClosed: Promise<void>;

  private constructor(private readonly socket: Socket) {
    this.parser = new ResponseParser({
      onHead: (head) => (this.current.head = head),
      onBody: (chunk) => this.current.chunks.push(Buffer.from(chunk)),
      onEnd: () => {
        const { head, chunks } = this.current;
        const headers: Record<string, string> = {};
        for (let i = 0; i < head!.headers.length; i += 2) headers[head!.headers[i]!] = head!.headers[i + 1]!;
        this.answers.push({ status: head!.status, headers, body: Buffer.concat(chunks) });
        this.current = { head: null, chunks: [] };
      },
    });
    this.parser.expect('GET');
    socket.on('data', (data: Buffer) => {
      let chunk = data;
      for (;;) {
        const left = this.parser.feed(chunk);
        if (!this.parser.done) break;
        this.parser.expect('GET');
        if (left === 0) break;
        chunk = chunk.subarray(chunk.length - left);
      }
      this.wake();
    });
    socket.on('error', () => {});
    this.whenClosed = once(socket, 'close').then(() => {
      this.closed = true;
      this.wake();
    });
  }

  static async open(port: number): Promise<RawClient> {
    const socket = connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    await once(socket, 'connect');
    return new RawClient(socket);
  }

  write(bytes: string | Buffer): void {
    this.socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  }

  /** The next answer in order, or null when the connection closed first. */
  async next(): Promise<RawResponse | null> {
    while (this.answers.length === 0 && !this.closed) await new Promise<void>((resolve) => (this.waiter = resolve));
    return this.answers.shift() ?? null;
  }

  /** Every answer until the connection closes. */
  async untilClosed(): Promise<RawResponse[]> {
    await this.whenClosed;
    return this.answers.splice(0);
  }

  destroy(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }
}

/** Closes a test server and every connection to it; nothing when it is already closed. */
async function closeServer(server: Server): Promise<void> {
  if (!server.listening) return;
  const closed = once(server, 'close');
  server.close();
  server.closeAllConnections();
  await closed;
}
