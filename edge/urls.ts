import { appHost, previewHost } from '../protocol/index.js';
import type { Env } from './env.js';

function url(env: Env, host: string): string {
  const port = env.APPS_PUBLIC_PORT;
  const defaultPort = env.APPS_SCHEME === 'https' ? '443' : '80';
  return `${env.APPS_SCHEME}://${host}${port && port !== defaultPort ? `:${port}` : ''}/`;
}

export const appUrl = (env: Env, project: string) => url(env, appHost(project, env.APPS_DOMAIN));
export const previewUrl = (env: Env, deploymentId: string, project: string) =>
  url(env, previewHost(deploymentId, project, env.APPS_DOMAIN));
