/** Content-addressed artifact downloads: stateDir/artifacts/<hex>.tar.gz, verified against the digest. */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { access, mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
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

  constructor(
    private readonly dir: string,
    /** Relative artifact URLs are resolved against the control plane URL. */
    private readonly baseUrl: string,
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

  /** Deletes cached archives no task uses any more (downloads in flight are kept); returns how many. */
  async collectGarbage(inUse: Iterable<string>): Promise<number> {
    const keep = new Set([...inUse].map((d) => DIGEST.exec(d)?.[1]).filter(Boolean));
    let removed = 0;
    for (const name of await readdir(this.dir).catch(() => [] as string[])) {
      const hex = /^([0-9a-f]{64})\.tar\.gz$/.exec(name)?.[1];
      if (!hex || keep.has(hex) || this.inFlight.has(hex)) continue;
      await rm(join(this.dir, name), { force: true });
      removed++;
    }
    return removed;
  }

  private async download(hex: string, relativeUrl: string, path: string): Promise<string> {
    await mkdir(this.dir, { recursive: true });
    let res: IncomingMessage;
    let url: string;
    try {
      url = new URL(relativeUrl, this.baseUrl).href;
    } catch {
      throw new ArtifactError(`artifact sha256:${short(hex)} has an unusable URL "${relativeUrl}"`, true);
    }
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
    const hash = createHash('sha256');
    const hasher = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        done(null, chunk);
      },
    });
    try {
      await pipeline(res, hasher, createWriteStream(tmp));
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
