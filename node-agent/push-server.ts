/** The agent's HTTP server (hyper-express): the scheduler's push endpoint, a liveness probe and /metrics. */
import HyperExpress from 'hyper-express';
import { errorBody, PushBody } from '../protocol/index.js';
import type { MetricsRegistry } from '../protocol/prometheus-text.js';
import { InvalidPushToken } from './push-token.js';

export interface PushServer {
  port: number;
  close(): void;
}

/** `onPush` applies the pushed token and returns the generation now applied; it throws InvalidPushToken to refuse. */
export async function startPushServer(host: string, port: number, metrics: MetricsRegistry, onPush: (token: string) => Promise<number>): Promise<PushServer> {
  const server = new HyperExpress.Server({ max_body_length: 4 * 1024 * 1024 });

  server.post('/v1/desired-state', async (req, res) => {
    const body = PushBody.safeParse(await req.json(null).catch(() => null));
    if (!body.success) {
      res.status(400).json(errorBody('invalid_push_body', 'body must be JSON {"token": "<JWT>"}'));
      return;
    }
    try {
      res.json({ appliedGeneration: await onPush(body.data.token) });
    } catch (err) {
      if (!(err instanceof InvalidPushToken)) throw err;
      res.status(401).json(errorBody('invalid_push_token', err.message));
    }
  });
  server.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });
  // Prometheus text; only aggregate counts, no task names or secrets, so it is unauthenticated like /healthz.
  server.get('/metrics', (_req, res) => {
    res.header('content-type', metrics.contentType).send(metrics.metrics());
  });

  server.set_not_found_handler((req, res) => {
    res.status(404).json(errorBody('not_found', `no route for ${req.method} ${req.path}`));
  });
  server.set_error_handler((_req, res, err) => {
    res.status(500).json(errorBody('internal', err.message));
  });

  await server.listen(port, host).catch((err: unknown) => {
    throw new Error(`agent could not listen on ${host}:${port}: ${err instanceof Error ? err.message : String(err)}`);
  });
  return { port: server.port, close: () => void server.close() };
}
