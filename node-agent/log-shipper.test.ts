import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { LogBatch } from '../protocol/index.js';
import { MAX_BATCH_BYTES, pooledBuffersAllocated } from './log-batch.js';
import { LogShipper } from './log-shipper.js';
import { LogSpool } from './log-spool.js';
import { createMetrics } from './metrics.js';
import { tempDir, waitFor } from './test-support.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
before(async () => (dir = await tempDir('shipper')));
after(() => dir.remove());

/**
 * What the agent may hold of a flood at once: the batches in flight (4 of MAX_BATCH_BYTES), which are
 * all the spool holds in memory (it held a 1 MB window of entries besides them before).
 */
const BOUND_BYTES = 4 * MAX_BATCH_BYTES;

test('a flood far larger than memory is shipped in full, once, in order, while the agent holds only the batches in flight', { timeout: 120_000 }, async () => {
  const lines = 8_000;
  const line = (n: number) => `flood ${String(n).padStart(6, '0')} ${'x'.repeat(2_000)}`; // 16 MB in all
  let next = 1;
  let inFlight = 0;
  let maxInFlight = 0;
  let maxHeld = 0;
  let spool: LogSpool | undefined;
  // The API, acking what it stored; it records the request bytes the agent has out at once.
  const server = createServer((req, res) => {
    const length = Number(req.headers['content-length'] ?? 0);
    inFlight += length;
    maxInFlight = Math.max(maxInFlight, inFlight);
    maxHeld = Math.max(maxHeld, spool?.heldBytes ?? Infinity);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const { entries } = JSON.parse(Buffer.concat(chunks).toString()) as LogBatch;
      // Batches may arrive in any order; the API acks the contiguous run stored.
      for (const e of entries) if (e.seq === next && e.line === line(next)) next++;
      inFlight -= length;
      res.end(JSON.stringify({ ackedSeq: next - 1 }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const shipper = new LogShipper(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, () => 'node-secret', createMetrics(() => []), () => undefined);
  try {
    spool = new LogSpool('flood', join(dir.path, 'flood'), { secretValues: [] });
    // The whole flood is spooled before the shipper sends a line: a backlog of 16 MB.
    appendFileSync(spool.rawPath('stdout'), Array.from({ length: lines }, (_, i) => `${line(i + 1)}\n`).join(''));
    while (spool.poll() > 0) maxHeld = Math.max(maxHeld, spool.heldBytes ?? Infinity);
    const allocatedBefore = pooledBuffersAllocated();
    shipper.add(spool);
    shipper.start();
    await waitFor('every line stored and acknowledged', () => spool!.ackedSeq === lines, 100_000);
    // 16 MB is over 128 batches: their bodies take turns in a few buffers (in flight, then the pool's 8).
    assert.ok(pooledBuffersAllocated() - allocatedBefore <= 12, `${pooledBuffersAllocated() - allocatedBefore} batch buffers allocated`);
    assert.equal(next, lines + 1, 'every line stored once, in order');
    assert.ok(maxInFlight <= BOUND_BYTES, `${maxInFlight} bytes of batches in flight at once`);
    assert.ok(maxHeld <= BOUND_BYTES, `the spool held ${maxHeld} bytes of entries in memory`);
  } finally {
    await shipper.stop(1_000);
    server.close();
  }
});

test('stop() while batches are in flight: every body sent is the one built for its lines, and nothing is lost', { timeout: 60_000 }, async () => {
  const line = (n: number) => `line ${n} ${'z'.repeat(100 + (n % 50))}`;
  const stored = new Set<number>();
  const wrong: string[] = [];
  let held: (() => void)[] | undefined = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const { entries } = JSON.parse(Buffer.concat(chunks).toString()) as LogBatch;
      for (const e of entries) if (e.line !== line(e.seq)) wrong.push(`${e.seq}: ${e.line.slice(0, 40)}`);
      const answer = () => {
        for (const e of entries) stored.add(e.seq);
        let acked = 0;
        while (stored.has(acked + 1)) acked++;
        res.end(JSON.stringify({ ackedSeq: acked }));
      };
      // The first requests wait until stop() has started: its rounds overlap sends in flight.
      if (held) held.push(answer);
      else answer();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const shipper = new LogShipper(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, () => 'node-secret', createMetrics(() => []), () => undefined);
  const spool = new LogSpool('stopping', join(dir.path, 'stopping'), { secretValues: [] });
  const total = 6_000;
  try {
    appendFileSync(spool.rawPath('stdout'), Array.from({ length: total / 2 }, (_, i) => `${line(i + 1)}\n`).join(''));
    while (spool.poll() > 0);
    shipper.add(spool);
    shipper.start();
    await waitFor('4 batches in flight', () => held!.length === 4);
    // More output arrives, then the agent stops: its final poll and rounds run while those 4 wait.
    appendFileSync(spool.rawPath('stdout'), Array.from({ length: total / 2 }, (_, i) => `${line(total / 2 + i + 1)}\n`).join(''));
    const stopping = shipper.stop(30_000);
    const answers = held!;
    held = undefined;
    for (const answer of answers) answer();
    await stopping;
    assert.deepEqual(wrong, [], 'bodies match their lines');
    assert.equal(spool.ackedSeq, total, 'every line stored');
  } finally {
    for (const answer of held ?? []) answer();
    server.closeAllConnections();
    server.close();
  }
});
