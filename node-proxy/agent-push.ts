/**
 * Agent push through the proxy (issue 4, point 8): a Worker can only reach ports 80/443, so the
 * scheduler pushes to `https://<node-id>.nodes.<apps-domain>/v1/desired-state` and the proxy of that
 * node forwards exactly that (POST, that path) to its local agent. The agent verifies the push JWT
 * itself; the proxy only keeps every other path and other nodes' ids away from it.
 */
import type { Target } from './route-table.js';

export const AGENT_PUSH_PATH = '/v1/desired-state';

export interface AgentPushConfig {
  appsDomain: string;
  /** The local agent's push listener, e.g. http://127.0.0.1:7070. */
  agentUrl: string;
  /** When set, only `<nodeId>.nodes.<domain>` is forwarded; unset, any node id is (the agent checks the token's node). */
  nodeId?: string;
}

export type AgentPushDecision = { target: Target } | { refuse: string } | undefined;

export class AgentPush {
  private readonly suffix: string;
  private readonly target: Target;

  constructor(private readonly cfg: AgentPushConfig) {
    this.suffix = `.nodes.${cfg.appsDomain.toLowerCase()}`;
    const url = new URL(cfg.agentUrl);
    if (url.protocol !== 'http:') throw new Error(`node-proxy: ZECTRE_PROXY_AGENT_URL must be http://host:port, got ${cfg.agentUrl}`);
    const port = Number(url.port || 80);
    this.target = { deploymentId: null, backends: [{ key: `${url.hostname}:${port}`, address: url.hostname, port }], cursor: 0 };
  }

  get backendKey(): string {
    return this.target.backends[0]!.key;
  }

  /** undefined: not a node host (route normally). `host` is already normalised. */
  decide(host: string, method: string, path: string): AgentPushDecision {
    if (!host.endsWith(this.suffix)) return undefined;
    const nodeId = host.slice(0, -this.suffix.length);
    if (this.cfg.nodeId && nodeId !== this.cfg.nodeId.toLowerCase()) return { refuse: `node ${nodeId} is not served by this proxy` };
    if (method !== 'POST' || path !== AGENT_PUSH_PATH) return { refuse: `node hosts only accept POST ${AGENT_PUSH_PATH}` };
    return { target: this.target };
  }
}
