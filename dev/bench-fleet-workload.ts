/** The fleet's work, created through the public API as a user would: projects, an artifact each, deployments. */
import { gzipSync } from 'node:zlib';
import type { Artifact, CreateDeployment, Deployment } from '../protocol/index.js';
import { ApiError, type ApiClient } from './bench-fleet-http.js';
import type { HeartbeatStats } from './bench-fleet-stats.js';

/** Setup requests in flight at once. */
const CONCURRENCY = 8;
/** An empty tar archive, gzipped: nodes never fetch it, the registry only checks it is gzip. */
const ARTIFACT = gzipSync(Buffer.alloc(1024));
/** Small tasks, so capacity never limits placement: what is measured is the control plane. */
const RESOURCES = { cpuMillis: 10, memoryMb: 16 };
/** The most replicas the API accepts per deployment today (CreateDeployment in protocol/api.ts). */
const API_MAX_REPLICAS = 100;

export class Workload {
  constructor(
    private readonly api: ApiClient,
    private readonly token: string,
    private readonly stats: HeartbeatStats,
  ) {}

  /**
   * `count` projects with `replicas` each, created CONCURRENCY at a time; returns the deployment ids
   * created (a project whose requests failed is counted in the errors and left out).
   */
  async deployMany(prefix: string, count: number, replicas: number, deadline: number): Promise<string[]> {
    const ids: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < count && Date.now() < deadline) {
        const name = `${prefix}-${++next}`;
        const id = await this.deploy(name, replicas).catch((err: ApiError) => void this.stats.requestFailed('setup', err.kind ?? 'bench', err.message));
        if (id) ids.push(id);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    return ids;
  }

  /**
   * One deployment of `replicas`; where the API caps replicas per deployment, as many deployments
   * (one project each) as it takes, created together. Returns their ids and how it was split.
   */
  async deployBig(replicas: number): Promise<{ ids: string[]; split: string | null }> {
    try {
      return { ids: [await this.deploy('big', replicas)], split: null };
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 400 && replicas > API_MAX_REPLICAS)) throw err;
      const parts = Math.ceil(replicas / API_MAX_REPLICAS);
      const sizes = Array.from({ length: parts }, (_, i) => Math.floor(replicas / parts) + (i < replicas % parts ? 1 : 0));
      const ids = await Promise.all(sizes.map((n, i) => this.deploy(`big-${i + 1}`, n)));
      return { ids, split: `the API refused ${replicas} replicas (${err.kind}): ${parts} deployments of ${sizes.join(' + ')} in ${parts} projects, created at once` };
    }
  }

  /** Creates the project if needed, uploads the artifact into it, creates the deployment. */
  private async deploy(project: string, replicas: number): Promise<string> {
    await this.api.call('POST', '/api/v1/projects', this.token, { name: project }).catch((err: ApiError) => {
      if (err.status !== 409) throw err; // already there: an earlier attempt at `big`
    });
    const artifact = await this.api.call<Artifact>('PUT', `/api/v1/projects/${project}/artifacts`, this.token, ARTIFACT);
    const body: CreateDeployment = {
      artifact: artifact.digest,
      command: 'node server.js',
      replicas,
      resources: RESOURCES,
      // The bench bounds its own waits; a slow setup must not fail deployments meanwhile.
      deadlineSeconds: 3_600,
    };
    const d = await this.api.call<Deployment>('POST', `/api/v1/projects/${project}/deployments`, this.token, body);
    return d.id;
  }

  /** The deployment as the API shows it; undefined (and counted as an error) when the request fails. */
  async status(id: string): Promise<Deployment | undefined> {
    return this.api.call<Deployment>('GET', `/api/v1/deployments/${id}`, this.token).catch((err: ApiError) => {
      this.stats.requestFailed('status', err.kind ?? 'bench', err.message);
      return undefined;
    });
  }
}
