/**
 * Certificates of custom domains, from the database, for the HTTPS listener's SNI callback. Reloaded
 * (whole, then swapped) when the route table changes and the certificates' version with it, so a
 * new or renewed certificate is served without a restart.
 * Every load is also saved next to the routes (route-snapshot.ts), keys still encrypted as the
 * database holds them: a proxy whose database is unreachable before its first load serves those
 * (issue 11 point 4, issue 14 point 8) until the database answers.
 */
import { createSecureContext, type SecureContext } from 'node:tls';
import { Coalescer } from '../coalescer.js';
import type { Snapshot } from '../route-snapshot.js';
import type { AcmeStore, StoredCertificate } from './store.js';

export class DomainCertificates {
  private contexts = new Map<string, SecureContext>();
  /** '' until the database answered once: its first answer then replaces whatever is served. */
  private version = '';
  private fromDisk = false;
  private closed = false;
  private readonly reloads = new Coalescer(() => this.loadOnce(), () => this.closed);

  constructor(
    private readonly store: AcmeStore,
    private readonly log: (m: string) => void,
    private readonly snapshot?: Snapshot<StoredCertificate[]>,
  ) {}

  get(hostname: string): SecureContext | undefined {
    return this.contexts.get(hostname.toLowerCase());
  }

  get size(): number {
    return this.contexts.size;
  }

  refresh(): Promise<void> {
    return this.reloads.trigger();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.reloads.running();
    await this.snapshot?.flushed();
  }

  private async loadOnce(): Promise<boolean> {
    try {
      const version = await this.store.certificatesVersion();
      if (version === this.version) return true;
      const rows = await this.store.certificates();
      this.contexts = await this.secureContexts(rows);
      this.version = version;
      this.snapshot?.save(rows, this.log);
      this.log(`domain certificates loaded: ${this.contexts.size}${this.fromDisk ? '; the saved certificates are no longer served' : ''}`);
      this.fromDisk = false;
      return true;
    } catch (err) {
      // The last certificates keep serving; the next route change or poll tries again.
      this.log(`cannot load domain certificates: ${(err as Error).message}`);
      if (this.version === '' && !this.fromDisk) await this.startFromDisk(err as Error);
      return false;
    }
  }

  private async startFromDisk(err: Error): Promise<void> {
    let saved;
    try {
      saved = this.snapshot?.load();
    } catch (readErr) {
      this.log(`cannot read the saved domain certificates in ${this.snapshot!.file}: ${(readErr as Error).message}`);
    }
    if (!saved) return;
    this.contexts = await this.secureContexts(saved.rows);
    this.fromDisk = true;
    this.log(
      `certificate database unreachable at startup (${err.message}): serving the ${this.contexts.size} domain certificates ` +
        `saved at ${saved.savedAt} from ${this.snapshot!.file} until it answers`,
    );
  }

  /** A certificate that cannot be used (a wrong ZECTRE_CERT_KEY, a broken PEM) is logged and left out. */
  private async secureContexts(rows: StoredCertificate[]): Promise<Map<string, SecureContext>> {
    const next = new Map<string, SecureContext>();
    for (const c of rows) {
      try {
        next.set(c.hostname, createSecureContext({ cert: c.certPem, key: await this.store.keyPem(c) }));
      } catch (err) {
        this.log(`certificate of ${c.hostname} not served: ${(err as Error).message}`);
      }
    }
    return next;
  }
}
