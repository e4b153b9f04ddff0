/**
 * The simulator's one HTTP client to the Worker: an undici keep-alive pool shared by every simulated
 * node (one connection per node at most, as real nodes would have), so the simulator's own CPU stays small.
 */
import { Pool } from 'undici';

/** The agent's request timeout (node-agent/http-json.ts), for registrations and heartbeats. */
export const AGENT_TIMEOUT_MS = 10_000;
/** The CLI's (cli/api-client.ts), for the bench's API calls. */
const CLI_TIMEOUT_MS = 30_000;

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    /** Short and stable, for counting: "503 internal", "network ECONNRESET", "timeout". */
    readonly kind: string,
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export class ApiClient {
  private readonly pool: Pool;

  constructor(readonly baseUrl: string, maxConnections: number) {
    // Idle connections close after 4 s, as Node's fetch (the agent's client) closes them: workerd
    // drops a connection idle for 5 s, and a heartbeat sent on one just as it drops fails with
    // "other side closed" (a 5 s heartbeat interval makes such idle gaps common).
    this.pool = new Pool(baseUrl, { connections: maxConnections, keepAliveTimeout: 4_000, keepAliveMaxTimeout: 4_000 });
  }

  /** Sends JSON (or raw bytes) and parses the JSON answer; any non-2xx or transport failure throws ApiError. */
  async call<T>(method: 'GET' | 'POST' | 'PUT', path: string, bearer: string, body?: unknown, timeoutMs = CLI_TIMEOUT_MS): Promise<T> {
    const raw = body instanceof Uint8Array;
    let status: number;
    let text: string;
    try {
      const res = await this.pool.request({
        method,
        path,
        headers: {
          authorization: `Bearer ${bearer}`,
          ...(body === undefined ? {} : { 'content-type': raw ? 'application/gzip' : 'application/json' }),
        },
        body: body === undefined ? undefined : raw ? body : JSON.stringify(body),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      status = res.statusCode;
      text = await res.body.text();
    } catch (err) {
      const code = (err as { code?: string }).code ?? (err as Error).name;
      const timeout = code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT';
      throw new ApiError(timeout ? 'timeout' : `network ${code}`, `${method} ${path} failed: ${(err as Error).message}`);
    }
    if (status < 200 || status > 299) {
      const code = errorCode(text);
      throw new ApiError(`${status} ${code}`, `${method} ${path} answered ${status} ${code}: ${text.slice(0, 300)}`, status);
    }
    return JSON.parse(text) as T;
  }

  close(): Promise<void> {
    return this.pool.destroy();
  }
}

function errorCode(text: string): string {
  try {
    return (JSON.parse(text) as { error?: { code?: string } }).error?.code ?? 'not_an_error_body';
  } catch {
    return 'not_json';
  }
}
