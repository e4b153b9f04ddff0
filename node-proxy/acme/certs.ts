/**
 * Certificates of custom domains, from the database, for the HTTPS listener's SNI callback. Reloaded
 * (whole, then swapped) when the route table changes and the certificates' version with it, so a
 * new or renewed certificate is served without a restart.
 */
import { createSecureContext, type SecureContext } from 'node:tls';
import { Coalescer } from '../coalescer.js';
import type { AcmeStore } from './store.js';

export class DomainCertificates {
  private contexts = new Map<string, SecureContext>();
  private version = '';
  private closed = false;
  private readonly reloads = new Coalescer(() => this.loadOnce(), () => this.closed);

  constructor(
    private readonly store: AcmeStore,
    private readonly log: (m: string) => void,
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
  }

  private async loadOnce(): Promise<boolean> {
    try {
      const version = await this.store.certificatesVersion();
      if (version === this.version) return true;
      const next = new Map<string, SecureContext>();
      for (const c of await this.store.certificates()) {
        try {
          next.set(c.hostname, createSecureContext({ cert: c.certPem, key: c.keyPem }));
        } catch (err) {
          this.log(`certificate of ${c.hostname} not served: ${(err as Error).message}`);
        }
      }
      this.contexts = next;
      this.version = version;
      this.log(`domain certificates loaded: ${next.size}`);
      return true;
    } catch (err) {
      // The last certificates keep serving; the next route change or poll tries again.
      this.log(`cannot load domain certificates: ${(err as Error).message}`);
      return false;
    }
  }
}
