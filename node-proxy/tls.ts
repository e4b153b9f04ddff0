/**
 * TLS termination (issue 4, point 5): certificates from files, one per host name, chosen by SNI.
 * `ZECTRE_PROXY_TLS_DIR` holds `<host>.crt` + `<host>.key` pairs (`*.example.com.crt` for a wildcard);
 * `default.crt`/`default.key`, if present, answer clients whose SNI matches nothing (else the first pair).
 */
import type { Server } from 'hyper-express';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

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
 * uWS gives every SNI name its own (empty) router, so the catch-all route and the WebSocket route
 * are bound to each name too, after listen() when hyper-express has compiled them. Uses
 * hyper-express internals (`routes`, `_handle_uws_request`, WebsocketRoute's `_create_uws_route`)
 * because it has no public API for it; covered by the SNI tests (plain and WebSocket).
 */
export function addSniCertificates(app: Server, certs: TlsCertificate[]): void {
  type WsRoute = { app: unknown; _create_uws_route(): void };
  type Internals = {
    routes: { any: Record<string, unknown>; ws: Record<string, WsRoute | undefined> };
    _handle_uws_request(route: unknown, req: unknown, res: unknown, ctx: null): void;
  };
  const internals = app as unknown as Internals;
  const route = internals.routes.any['/*'];
  const wsRoute = internals.routes.ws['/*'];
  const uws = app.uws_instance as unknown as {
    addServerName(host: string, opts: object): unknown;
    domain(host: string): { any(pattern: string, handler: (res: unknown, req: unknown) => void): unknown };
  };
  for (const cert of certs) {
    uws.addServerName(cert.host, { key_file_name: cert.keyFile, cert_file_name: cert.certFile });
    const router = uws.domain(cert.host);
    router.any('/*', (res, req) => internals._handle_uws_request(route, req, res, null));
    if (wsRoute) {
      // The route registers itself on `this.app.uws_instance`: point that at this name's router for
      // the one call. Its handlers read `this.app` when they run, by then the real server again.
      wsRoute.app = new Proxy(app, { get: (target, key) => (key === 'uws_instance' ? router : Reflect.get(target, key)) });
      try {
        wsRoute._create_uws_route();
      } finally {
        wsRoute.app = app;
      }
    }
  }
}
