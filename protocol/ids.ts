/** Identifiers that appear in host names must be DNS-label safe: lowercase letters and digits. */
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

export function newId(prefix: 'p' | 'd' | 't' | 'n' | 'u' | 'k' | 'b', length = 12): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  let out = prefix;
  for (const b of bytes) out += ALPHABET[b % ALPHABET.length];
  return out;
}

/** Project slugs: 1-40 of [a-z0-9-], no leading/trailing '-', and no '--' (the preview separator). */
export const SLUG_PATTERN = /^(?!-)(?!.*--)[a-z0-9-]{1,40}(?<!-)$/;

/** `<deployment-id>--<project>.<apps-domain>` reaches one deployment; `<project>.<apps-domain>` the live one. */
export function appHost(project: string, appsDomain: string): string {
  return `${project}.${appsDomain}`;
}
export function previewHost(deploymentId: string, project: string, appsDomain: string): string {
  return `${deploymentId}--${project}.${appsDomain}`;
}
