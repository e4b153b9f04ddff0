/**
 * Content-addressed artifact downloads: stateDir/artifacts/<hex>.tar.gz (0600, root-only like the
 * rest of the state), verified against the digest. The node credential goes only to the control
 * plane the agent registered with: an artifact URL on any other origin is refused unsent.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { access, mkdir, readdir, rename, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { IncomingMessage } from 'node:http';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { request, requestErrorMessage } from './http-client.js';

const DIGEST = /^sha256:([0-9a-f]{64})$/;
const DOWNLOAD_TIMEOUT_MS = 5 * 60_000;

/** `permanent` failures (bad digest, 4xx) won't fix themselves by retrying; network errors and 5xx might. */
export class ArtifactError extends Error {
  override name = 'ArtifactError';
  constructor(
    message: string,
    readonly permanent: boolean,
  ) {
    super(message);
  }
}

export class ArtifactCache {
  /** One download per digest even when several tasks ask at once. */
  private readonly inFlight = new Map<string, Promise<string>>();
  /** File names of the partial downloads being written now. */
  private readonly writing = new Set<string>();

  constructor(
    private readonly dir: string,
    /** The control plane URL (ZECTRE_API_URL): relative artifact URLs resolve against it, and only its origin gets the credential. */
    private readonly apiUrl: string,
    private readonly credential: () => string,
  ) {}

  /** Path of the verified tar.gz for `digest`, downloading it from `url` unless already cached. */
  async get(digest: string, url: string): Promise<string> {
    const hex = DIGEST.exec(digest)?.[1];
    if (!hex) throw new ArtifactError(`artifact digest "${digest}" is not sha256:<64 hex>`, true);
    const path = join(this.dir, `${hex}.tar.gz`);
    if (await exists(path)) return path;
    let pending = this.inFlight.get(hex);
    if (!pending) {
      pending = this.download(hex, url, path).finally(() => this.inFlight.delete(hex));
      this.inFlight.set(hex, pending);
    }
    return pending;
  }

  /**
   * Deletes cached archives no task uses any more, and partial downloads no download of this agent
   * writes (an agent killed mid-download leaves its .partial file behind); returns how many.
   */
  async collectGarbage(inUse: Iterable<string>): Promise<number> {
    const keep = new Set([...inUse].map((d) => DIGEST.exec(d)?.[1]).filter(Boolean));
    let removed = 0;
    for (const name of await readdir(this.dir).catch(() => [] as string[])) {
      const [, hex, partial] = /^([0-9a-f]{64})\.tar\.gz(\.partial-[0-9a-f]+)?$/.exec(name) ?? [];
      if (!hex || (partial ? this.writing.has(name) : keep.has(hex) || this.inFlight.has(hex))) continue;
      await rm(join(this.dir, name), { force: true });
      removed++;
    }
    return removed;
  }

  private async download(hex: string, given: string, path: string): Promise<string> {
    const url = this.resolve(hex, given);
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    let res: IncomingMessage;
    const signal = AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS);
    try {
      res = await request(url, { headers: { authorization: `Bearer ${this.credential()}` }, signal });
    } catch (err) {
      throw new ArtifactError(`artifact sha256:${short(hex)} fetch from ${url} failed: ${requestErrorMessage(err, signal)}`, false);
    }
    const status = res.statusCode ?? 0;
    if (status < 200 || status > 299) {
      res.resume();
      const permanent = status >= 400 && status < 500 && status !== 408 && status !== 429;
      throw new ArtifactError(`artifact sha256:${short(hex)} fetch from ${url} answered ${status}`, permanent);
    }
    // Stream to a temp name and rename only after the digest matches, so the cache never holds a bad blob.
    const tmp = `${path}.partial-${randomBytes(4).toString('hex')}`;
    this.writing.add(basename(tmp));
    try {
      return await this.receive(res, tmp, hex, url, path, signal);
    } finally {
      this.writing.delete(basename(tmp));
    }
  }

  /** Streams the answer into `tmp`, checks the digest and renames it to `path`. */
  private async receive(res: IncomingMessage, tmp: string, hex: string, url: string, path: string, signal: AbortSignal): Promise<string> {
    const hash = createHash('sha256');
    const hasher = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        done(null, chunk);
      },
    });
    try {
      await pipeline(res, hasher, createWriteStream(tmp, { mode: 0o600 }));
    } catch (err) {
      await rm(tmp, { force: true });
      throw new ArtifactError(`artifact sha256:${short(hex)} download from ${url} broke off: ${requestErrorMessage(err, signal)}`, false);
    }
    const got = hash.digest('hex');
    if (got !== hex) {
      await rm(tmp, { force: true });
      throw new ArtifactError(`artifact sha256:${short(hex)} digest mismatch: got sha256:${short(got)} from ${url}`, true);
    }
    await rename(tmp, path);
    return path;
  }

  /**
   * The absolute URL to fetch: a relative one is a path under the API URL (as every other agent call
   * builds its URLs); an absolute one must be on the API's origin, or the credential would go to
   * whoever a desired state names.
   */
  private resolve(hex: string, given: string): string {
    const api = new URL(this.apiUrl);
    let url: URL;
    try {
      url = URL.canParse(given) ? new URL(given) : new URL(`${this.apiUrl.replace(/\/+$/, '')}/${given.replace(/^\/+/, '')}`);
    } catch {
      throw new ArtifactError(`artifact sha256:${short(hex)} has an unusable URL "${given}"`, true);
    }
    if (url.origin !== api.origin) {
      throw new ArtifactError(
        `artifact sha256:${short(hex)} URL ${url.href} is not on the control plane ${api.origin} (ZECTRE_API_URL): refusing to send the node credential there`,
        true,
      );
    }
    return url.href;
  }
}

const short = (hex: string) => `${hex.slice(0, 12)}…`;

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
