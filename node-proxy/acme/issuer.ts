/**
 * The ACME issuer: one proxy at a time (the holder of the lease in acme_lease) orders certificates
 * for new custom domains and for those due for renewal, answering HTTP-01 challenges through the
 * database (every proxy serves them: challenges.ts), and stores each certificate with its key
 * encrypted (store.ts). A failed order records the CA's words on the domain.
 */
import { Agent } from 'node:https';
import acme from 'acme-client';
import { Coalescer } from '../coalescer.js';
import type { AcmeStore } from './store.js';

export interface IssuerConfig {
  /** The CA's ACME directory, e.g. https://acme-v02.api.letsencrypt.org/directory. */
  directoryUrl: string;
  /** The account's contact address (the CA's expiry notices). */
  email?: string;
  /** PEM of extra CAs to trust for the directory's HTTPS (a test CA such as Pebble's). */
  directoryCa?: string;
  /** Who holds the lease (the proxy's id). */
  holder: string;
  /** How often due domains are looked for (besides every route change). Default 60000. */
  intervalMs?: number;
  /** First wait between polls of an order's status (it doubles up to 30 s). Default 5000. */
  pollMs?: number;
}

const LEASE_SECONDS = 300;
/** A challenge outlives any order: the CA checks within minutes. */
const CHALLENGE_SECONDS = 3600;
/** A failed renewal is tried again after this long, while the current certificate still serves. */
const RENEW_RETRY_SECONDS = 3600;
const RENEW_BEFORE_MS = 30 * 24 * 3600 * 1000;
const CLOSE_WAIT_MS = 2_000;

export class Issuer {
  private readonly passes = new Coalescer(() => this.pass(), () => this.closed);
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private client: acme.Client | null = null;

  constructor(
    private readonly cfg: IssuerConfig,
    private readonly store: AcmeStore,
    private readonly log: (m: string) => void,
  ) {
    if (cfg.directoryCa) acme.axios.defaults.httpsAgent = new Agent({ ca: cfg.directoryCa });
  }

  start(): void {
    this.timer = setInterval(() => void this.wake(), this.cfg.intervalMs ?? 60_000);
    this.timer.unref();
    void this.wake();
  }

  /** Looks for due domains now (a domain added bumps the route epoch, which calls this). */
  wake(): Promise<void> {
    return this.passes.trigger();
  }

  /**
   * An order under way can poll the CA for minutes: shutdown waits for it only briefly. A domain
   * left 'issuing' is ordered again by the next lease holder.
   */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.passes.running(), new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS)))]);
    clearTimeout(timer);
  }

  private async pass(): Promise<boolean> {
    try {
      if (!(await this.store.takeLease(this.cfg.holder, LEASE_SECONDS))) return true;
      for (const domain of await this.store.due()) {
        if (this.closed) break;
        // Renewed per domain: an order can take a while.
        if (!(await this.store.takeLease(this.cfg.holder, LEASE_SECONDS))) break;
        await this.issue(domain.hostname, domain.renewing);
      }
    } catch (err) {
      this.log(`acme: pass failed, retrying at the next route change or interval: ${(err as Error).message}`);
    }
    return true;
  }

  private async issue(hostname: string, renewing: boolean): Promise<void> {
    this.log(`acme: ${renewing ? 'renewing' : 'ordering'} a certificate for ${hostname}`);
    await this.store.begin(hostname, renewing ? 'renewing the certificate' : `ordering a certificate from ${new URL(this.cfg.directoryUrl).host}`);
    try {
      const client = await this.acmeClient();
      const [key, csr] = await acme.crypto.createCsr({ commonName: hostname, altNames: [hostname] }, await acme.crypto.createPrivateEcdsaKey());
      const chain = await client.auto({
        csr,
        email: this.cfg.email,
        termsOfServiceAgreed: true,
        challengePriority: ['http-01'],
        // The CA checks; a self-check from this VM through its own DNS would tell nothing more.
        skipChallengeVerification: true,
        challengeCreateFn: (_authz, challenge, keyAuthorization) => this.store.putChallenge(challenge.token, hostname, keyAuthorization, CHALLENGE_SECONDS),
        challengeRemoveFn: (_authz, challenge) => this.store.dropChallenge(challenge.token),
      });
      const { notBefore, notAfter } = acme.crypto.readCertificateInfo(chain);
      // 30 days before expiry, or a third of the lifetime for shorter-lived certificates.
      const lifetime = notAfter.getTime() - notBefore.getTime();
      const renewAfter = new Date(notAfter.getTime() - Math.min(RENEW_BEFORE_MS, lifetime / 3));
      await this.store.issued(hostname, chain, key.toString(), notAfter, renewAfter);
      this.log(`acme: certificate for ${hostname} issued, valid until ${notAfter.toISOString()}`);
    } catch (err) {
      const message = `${describe(err)} (check that ${hostname} resolves to the proxies and that port 80 reaches them)`;
      this.log(`acme: certificate for ${hostname} failed: ${message}`);
      await this.store.failed(hostname, message, RENEW_RETRY_SECONDS);
    }
  }

  private async acmeClient(): Promise<acme.Client> {
    if (this.client) return this.client;
    const accountKey = await this.store.accountKey(this.cfg.directoryUrl, async () => (await acme.crypto.createPrivateEcdsaKey()).toString());
    const pollMs = this.cfg.pollMs ?? 5_000;
    this.client = new acme.Client({ directoryUrl: this.cfg.directoryUrl, accountKey, backoffMin: pollMs, backoffMax: Math.min(30_000, pollMs * 16) });
    return this.client;
  }
}

/** The CA's problem detail when there is one (acme-client puts it in the message), else the error's words. */
function describe(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/\s+/g, ' ').trim().slice(0, 1000) || 'the ACME order failed without a message';
}
