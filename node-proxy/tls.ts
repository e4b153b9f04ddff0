/**
 * TLS termination (issue 4, point 5): certificates from files, one per host name, chosen by SNI, and
 * custom domains' certificates from the database (acme/certs.ts).
 * `ZECTRE_PROXY_TLS_DIR` holds `<host>.crt` + `<host>.key` pairs (`*.example.com.crt` for a wildcard);
 * `default.crt`/`default.key`, if present, answer clients whose SNI matches nothing (else the first pair).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSecureContext, type SecureContext } from 'node:tls';

export interface TlsCertificate {
  /** SNI host name (or `*.domain`); ignored for the default (first) certificate. */
  host: string;
  certFile: string;
  keyFile: string;
}

export function certificatesFromDir(dir: string): TlsCertificate[] {
  const certs = readdirSync(dir)
    .filter((f) => f.endsWith('.crt'))
    .sort()
    .map((f) => {
      const host = f.slice(0, -'.crt'.length);
      const keyFile = join(dir, `${host}.key`);
      if (!existsSync(keyFile)) throw new Error(`node-proxy: ${join(dir, f)} has no matching key file ${keyFile}`);
      return { host, certFile: join(dir, f), keyFile };
    });
  if (!certs.length) throw new Error(`node-proxy: no <host>.crt + <host>.key pairs in ${dir}`);
  const fallback = certs.findIndex((c) => c.host === 'default');
  if (fallback > 0) certs.unshift(...certs.splice(fallback, 1));
  // The default is also served by its own name when a client asks for it.
  return certs[0]!.host === 'default' ? certs : [certs[0]!, ...certs];
}

/**
 * node:https options: the first certificate as the default, the others chosen by the client's SNI
 * name (exact name first, then a custom domain's certificate from `domains`, then `*.` + the name
 * without its first label). With no files at all, a name nothing matches fails the handshake.
 */
export function tlsOptions(
  certs: TlsCertificate[],
  domains?: (name: string) => SecureContext | undefined,
): { key?: Buffer; cert?: Buffer; SNICallback: (name: string, cb: (err: Error | null, ctx?: SecureContext) => void) => void } {
  const read = (c: TlsCertificate) => ({ key: readFileSync(c.keyFile), cert: readFileSync(c.certFile) });
  const byName = new Map<string, SecureContext>();
  for (const c of certs.slice(1)) byName.set(c.host.toLowerCase(), createSecureContext(read(c)));
  const fallback = certs[0] ? createSecureContext(read(certs[0])) : undefined;
  return {
    ...(certs[0] ? read(certs[0]) : {}),
    SNICallback: (name, cb) => {
      const host = name.toLowerCase();
      const dot = host.indexOf('.');
      const ctx = byName.get(host) ?? domains?.(host) ?? (dot > 0 ? byName.get(`*${host.slice(dot)}`) : undefined) ?? fallback;
      if (ctx) cb(null, ctx);
      else cb(new Error(`no certificate for ${name}`));
    },
  };
}
