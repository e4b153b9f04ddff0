/**
 * TLS termination (issue 4, point 5): certificates from files, one per host name, chosen by SNI.
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
 * name (exact name first, then `*.` + the name without its first label).
 */
export function tlsOptions(certs: TlsCertificate[]): { key: Buffer; cert: Buffer; SNICallback: (name: string, cb: (err: Error | null, ctx?: SecureContext) => void) => void } {
  const read = (c: TlsCertificate) => ({ key: readFileSync(c.keyFile), cert: readFileSync(c.certFile) });
  const byName = new Map<string, SecureContext>();
  for (const c of certs.slice(1)) byName.set(c.host.toLowerCase(), createSecureContext(read(c)));
  const fallback = createSecureContext(read(certs[0]!));
  return {
    ...read(certs[0]!),
    SNICallback: (name, cb) => {
      const host = name.toLowerCase();
      const dot = host.indexOf('.');
      cb(null, byName.get(host) ?? (dot > 0 ? byName.get(`*${host.slice(dot)}`) : undefined) ?? fallback);
    },
  };
}
