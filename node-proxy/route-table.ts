/**
 * The proxy's routing table: pure data built from database rows, so it can be unit-tested and
 * swapped atomically on reload. Every host the proxy knows is precomputed into one Map, so a
 * request costs one Map lookup (plus a short prefix scan for hosts with path routes).
 */

/** One healthy task: `${address}:${port}` is the key the upstream pools are kept under. */
export interface Backend {
  key: string;
  address: string;
  port: number;
}

/** Where a host (or host + path prefix) sends traffic. Empty `backends` means "known, but nothing healthy". */
export interface Target {
  deploymentId: string | null;
  backends: Backend[];
  /** Round-robin cursor; lives on the target so it resets with the table, which is fine. */
  cursor: number;
}

/** A row of the healthy-task query (see route-queries.ts). */
export interface TaskRow {
  slug: string;
  live_deployment_id: string | null;
  deployment_id: string;
  address: string;
  port: number;
}

/** Every project: its app host is known (503 rather than 404) even before anything is healthy. */
export interface ProjectRow {
  slug: string;
  live_deployment_id: string | null;
}

/** Every deployment with its project's slug, so a preview host without healthy tasks is a 503 too. */
export interface DeploymentRow {
  id: string;
  slug: string;
}

/** A row of the `routes` table joined to its project's live deployment. */
export interface CustomRouteRow {
  host: string;
  path_prefix: string;
  live_deployment_id: string | null;
}

/** Routes for one host, longest prefix first. */
type HostRoutes = { prefix: string; target: Target }[];

export class RouteTable {
  constructor(
    readonly epoch: number,
    private readonly hosts: Map<string, HostRoutes>,
  ) {}

  /** undefined = unknown host (404); a target with no backends = known but unhealthy (503). */
  lookup(hostHeader: string, path: string): Target | undefined {
    const routes = this.hosts.get(normalizeHost(hostHeader));
    if (!routes) return undefined;
    for (const route of routes) if (prefixMatches(route.prefix, path)) return route.target;
    return undefined;
  }

  /** Every distinct backend in the table, to prune upstream pools after a reload. */
  backendKeys(): Set<string> {
    const keys = new Set<string>();
    for (const routes of this.hosts.values()) for (const r of routes) for (const b of r.target.backends) keys.add(b.key);
    return keys;
  }

  get hostCount(): number {
    return this.hosts.size;
  }
}

/** Lower-cased, without the port (and without the brackets' port of an IPv6 literal). */
export function normalizeHost(hostHeader: string): string {
  const host = hostHeader.trim().toLowerCase();
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end === -1 ? host : host.slice(0, end + 1);
  }
  const colon = host.indexOf(':');
  const bare = colon === -1 ? host : host.slice(0, colon);
  // A fully qualified name may end in a dot; it names the same host.
  return bare.endsWith('.') ? bare.slice(0, -1) : bare;
}

/** "/api" matches "/api", "/api/x" and "/api?q", not "/apix"; "/" matches everything. */
export function prefixMatches(prefix: string, path: string): boolean {
  if (prefix === '/' || prefix === '') return true;
  if (!path.startsWith(prefix)) return false;
  if (prefix.endsWith('/') || path.length === prefix.length) return true;
  const next = path[prefix.length];
  return next === '/' || next === '?';
}

export function buildRouteTable(input: {
  epoch: number;
  appsDomain: string;
  tasks: TaskRow[];
  projects: ProjectRow[];
  deployments: DeploymentRow[];
  customRoutes: CustomRouteRow[];
}): RouteTable {
  const domain = input.appsDomain.toLowerCase();
  const targets = new Map<string, Target>();
  // Keyed by deployment id; '' is "no live deployment", which never gets backends (tasks always have one).
  const targetFor = (deploymentId: string | null): Target => {
    const key = deploymentId ?? '';
    let target = targets.get(key);
    if (!target) {
      target = { deploymentId, backends: [], cursor: 0 };
      targets.set(key, target);
    }
    return target;
  };

  for (const row of input.tasks) {
    const key = backendKey(row.address, row.port);
    const target = targetFor(row.deployment_id);
    if (!target.backends.some((b) => b.key === key)) target.backends.push({ key, address: row.address, port: row.port });
  }

  const hosts = new Map<string, HostRoutes>();
  const add = (host: string, prefix: string, target: Target) => {
    const routes = hosts.get(host) ?? [];
    // The first route for a (host, prefix) wins: custom rows are added before generated ones.
    if (!routes.some((r) => r.prefix === prefix)) routes.push({ prefix, target });
    hosts.set(host, routes);
  };

  for (const row of input.customRoutes) {
    add(normalizeHost(row.host), normalizePrefix(row.path_prefix), targetFor(row.live_deployment_id));
  }
  for (const row of input.projects) add(`${row.slug.toLowerCase()}.${domain}`, '/', targetFor(row.live_deployment_id));
  for (const row of input.deployments) {
    add(`${row.id.toLowerCase()}--${row.slug.toLowerCase()}.${domain}`, '/', targetFor(row.id));
  }

  for (const routes of hosts.values()) routes.sort((a, b) => b.prefix.length - a.prefix.length);
  return new RouteTable(input.epoch, hosts);
}

export function backendKey(address: string, port: number): string {
  return address.includes(':') && !address.startsWith('[') ? `[${address}]:${port}` : `${address}:${port}`;
}

function normalizePrefix(prefix: string): string {
  if (!prefix) return '/';
  return prefix.startsWith('/') ? prefix : `/${prefix}`;
}
