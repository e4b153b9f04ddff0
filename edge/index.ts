import { Router, type IRequest } from 'itty-router';
import { getArtifact, putArtifact } from './api/artifacts.js';
import { createDeployment, getDeployment, listDeployments } from './api/deployments.js';
import { listEnv, setEnv, unsetEnv } from './api/env-vars.js';
import { addDomain, getDomain, listDomains, removeDomain } from './api/domains.js';
import { ingestLogs, readLogs } from './api/logs.js';
import { createProject, getProject, listProjects } from './api/projects.js';
import { createSession, deleteSession } from './api/sessions.js';
import { whoami } from './api/whoami.js';
import { unsetEnvKeys } from './api/env-release.js';
import { listEvents } from './api/events.js';
import { createJoinToken } from './api/join-tokens.js';
import { drainNode, getNode, listNodes } from './api/nodes.js';
import { deleteProject } from './api/project-delete.js';
import { rollback } from './api/rollback.js';
import { scale } from './api/scale.js';
import { createToken, listTokens, revokeToken } from './api/tokens.js';
import { acceptInviteRoute, createInvite, listInvites, previewInvite, revokeInvite } from './api/invites.js';
import { listMembers, removeMember, setMemberRole } from './api/members.js';
import { disableUser, enableUser, listUsers } from './api/users.js';
import { createDeps, type Deps } from './deps.js';
import type { ExecutionContext, ScheduledController } from './cf.js';
import type { Env } from './env.js';
import { healthz } from './health.js';
import { HttpError, decodePathParams, errorResponse } from './http.js';
import { installScript } from './install/install-script.js';
import { getBlob } from './registry/blobs.js';
import { getCatalogJwks } from './catalog/jwks-route.js';
import { getJwks, heartbeat, register } from './scheduler/nodes.js';
import { evaluate, wakeScheduler } from './scheduler/evaluate.js';
import { buildLogs, cancelBuild, createBuild, getBuild, listBuilds } from './builds/api.js';
import { claimBuild, getBuildCache, getBuildSource, putBuildArtifact, putBuildCache, reportBuild } from './builds/agent-routes.js';

export { NodeShard } from './scheduler/node-shard.js';
export { SchedulerObject } from './scheduler/scheduler-object.js';

const router = Router<IRequest, [Deps]>({ before: [decodePathParams] });
router
  .get('/healthz', healthz)
  .get('/api/v1/whoami', whoami)
  .post('/api/v1/sessions', createSession)
  .delete('/api/v1/sessions/current', deleteSession)
  .post('/api/v1/projects', createProject)
  .get('/api/v1/projects', listProjects)
  .get('/api/v1/projects/:project', getProject)
  .put('/api/v1/projects/:project/artifacts', putArtifact)
  .get('/api/v1/projects/:project/artifacts/:digest', getArtifact)
  .post('/api/v1/projects/:project/deployments', createDeployment)
  .get('/api/v1/projects/:project/deployments', listDeployments)
  .get('/api/v1/deployments/:id', getDeployment)
  .get('/api/v1/projects/:project/env', listEnv)
  .put('/api/v1/projects/:project/env', setEnv)
  .delete('/api/v1/projects/:project/env/:key', unsetEnv)
  .get('/api/v1/projects/:project/logs', readLogs)
  .delete('/api/v1/projects/:project', deleteProject)
  .post('/api/v1/projects/:project/rollback', rollback)
  .post('/api/v1/projects/:project/scale', scale)
  .post('/api/v1/projects/:project/env/unset', unsetEnvKeys)
  .get('/api/v1/projects/:project/events', listEvents)
  .post('/api/v1/projects/:project/domains', addDomain)
  .get('/api/v1/projects/:project/domains', listDomains)
  .get('/api/v1/projects/:project/domains/:hostname', getDomain)
  .delete('/api/v1/projects/:project/domains/:hostname', removeDomain)
  .post('/api/v1/tokens', createToken)
  .get('/api/v1/tokens', listTokens)
  .delete('/api/v1/tokens/:id', revokeToken)
  .post('/api/v1/join-tokens', createJoinToken)
  .get('/api/v1/nodes', listNodes)
  .get('/api/v1/nodes/:node', getNode)
  .post('/api/v1/nodes/:node/drain', drainNode)
  .post('/api/v1/tasks/:id/logs', ingestLogs)
  .post('/scheduler/v1/nodes/register', register)
  .post('/scheduler/v1/nodes/:id/heartbeat', heartbeat)
  .get('/scheduler/v1/jwks', getJwks)
  .get('/registry/v1/blobs/:digest', getBlob)
  .get('/install.sh', installScript)
  .get('/.well-known/jwks.json', getCatalogJwks)
  .post('/api/v1/projects/:project/invites', createInvite)
  .get('/api/v1/projects/:project/invites', listInvites)
  .delete('/api/v1/projects/:project/invites/:id', revokeInvite)
  .get('/api/v1/invites/:token', previewInvite)
  .post('/api/v1/invites/:token/accept', acceptInviteRoute)
  .get('/api/v1/projects/:project/members', listMembers)
  .put('/api/v1/projects/:project/members/:user', setMemberRole)
  .delete('/api/v1/projects/:project/members/:user', removeMember)
  .get('/api/v1/users', listUsers)
  .post('/api/v1/users/:user/disable', disableUser)
  .post('/api/v1/users/:user/enable', enableUser)
  .post('/api/v1/projects/:project/builds', createBuild)
  .get('/api/v1/projects/:project/builds', listBuilds)
  .get('/api/v1/builds/:id', getBuild)
  .get('/api/v1/builds/:id/logs', buildLogs)
  .post('/api/v1/builds/:id/cancel', cancelBuild)
  .post('/scheduler/v1/nodes/:id/builds/claim', claimBuild)
  .post('/scheduler/v1/builds/:id/report', reportBuild)
  .get('/scheduler/v1/builds/:id/source', getBuildSource)
  .get('/scheduler/v1/builds/:id/cache', getBuildCache)
  .put('/scheduler/v1/builds/:id/cache', putBuildCache)
  .put('/scheduler/v1/builds/:id/artifact', putBuildArtifact)
  .all('*', (request) => {
    throw new HttpError(404, 'route_not_found', `no route for ${request.method} ${new URL(request.url).pathname}`);
  });

/** Every route as `METHOD /path` (the catch-all excluded), for the isolation-matrix test: a new route needs a row there. */
export const ROUTES: string[] = router.routes.filter(([method]) => method !== 'ALL').map(([method, , , path]) => `${method} ${path}`);

/** Set by the first request this isolate serves: after a restart it wakes the scheduler, which wakes every shard. */
let woken = false;

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    if (!woken) {
      woken = true;
      ctx.waitUntil(wakeScheduler(env).catch((err) => console.warn(`waking the scheduler failed: ${(err as Error).message}`)));
    }
    const { deps, close } = createDeps(env, ctx);
    try {
      return await router.fetch(request, deps);
    } catch (err) {
      return errorResponse(err);
    } finally {
      close();
    }
  },

  /**
   * Cron backstop: a sweep, which also wakes the scheduler and through it every node shard (their
   * alarms then keep liveness and deadlines going, even after a restart with no request since).
   */
  async scheduled(_event: ScheduledController, env: Env): Promise<void> {
    await evaluate(env, { sweep: true });
  },
};
