/**
 * The proxy's side of custom domains (migration 011), through its restricted database role: it
 * reads certificates and challenges from `routing` views and writes only through the
 * `routing.acme_*` functions. Private keys cross the database encrypted under ZECTRE_CERT_KEY.
 */
import type { Pool } from '@neondatabase/serverless';
import { decrypt, encrypt } from '../../protocol/crypto.js';

/** As the database holds it: the key is still encrypted (and stays so on disk, acme/certs.ts). */
export interface StoredCertificate {
  hostname: string;
  certPem: string;
  keyEnc: string;
}

export interface DueDomain {
  hostname: string;
  renewing: boolean;
}

/** ZECTRE_CERT_KEY: base64 of 32 random bytes (`openssl rand -base64 32`), the same on every proxy. */
export function checkCertKey(key: string): string {
  if (Buffer.from(key, 'base64').byteLength !== 32) throw new Error('ZECTRE_CERT_KEY must be base64 of exactly 32 bytes (openssl rand -base64 32)');
  return key;
}

export class AcmeStore {
  constructor(
    private readonly pool: Pool,
    private readonly certKey: string,
  ) {}

  /** Changes whenever a certificate is added, replaced or removed. */
  async certificatesVersion(): Promise<string> {
    const { rows } = await this.pool.query<{ v: string }>("SELECT count(*) || ':' || coalesce(max(cert_version), 0) AS v FROM routing.certificates");
    return rows[0]!.v;
  }

  async certificates(): Promise<StoredCertificate[]> {
    const { rows } = await this.pool.query<{ hostname: string; cert_pem: string; key_enc: string }>('SELECT hostname, cert_pem, key_enc FROM routing.certificates');
    return rows.map((r) => ({ hostname: r.hostname, certPem: r.cert_pem, keyEnc: r.key_enc }));
  }

  /** A certificate's PEM private key, in memory only. */
  keyPem(c: StoredCertificate): Promise<string> {
    return decrypt(this.certKey, c.keyEnc);
  }

  async challenge(token: string): Promise<string | null> {
    const { rows } = await this.pool.query<{ key_authorization: string }>('SELECT key_authorization FROM routing.acme_challenges WHERE token = $1', [token]);
    return rows[0]?.key_authorization ?? null;
  }

  async takeLease(holder: string, seconds: number): Promise<boolean> {
    const { rows } = await this.pool.query<{ ok: boolean | null }>('SELECT routing.acme_take_lease($1, $2) AS ok', [holder, seconds]);
    return rows[0]?.ok === true;
  }

  async due(): Promise<DueDomain[]> {
    return (await this.pool.query<DueDomain>('SELECT hostname, renewing FROM routing.acme_due()')).rows;
  }

  async begin(hostname: string, message: string): Promise<void> {
    await this.pool.query('SELECT routing.acme_begin($1, $2)', [hostname, message]);
  }

  async putChallenge(token: string, hostname: string, keyAuthorization: string, seconds: number): Promise<void> {
    await this.pool.query('SELECT routing.acme_put_challenge($1, $2, $3, $4)', [token, hostname, keyAuthorization, seconds]);
  }

  async dropChallenge(token: string): Promise<void> {
    await this.pool.query('SELECT routing.acme_drop_challenge($1)', [token]);
  }

  async issued(hostname: string, certPem: string, keyPem: string, notAfter: Date, renewAfter: Date): Promise<void> {
    await this.pool.query('SELECT routing.acme_issued($1, $2, $3, $4, $5)', [hostname, certPem, await encrypt(this.certKey, keyPem), notAfter.toISOString(), renewAfter.toISOString()]);
  }

  async failed(hostname: string, message: string, retrySeconds: number): Promise<void> {
    await this.pool.query('SELECT routing.acme_failed($1, $2, $3)', [hostname, message, retrySeconds]);
  }

  /** The account key for this directory: the stored one, else `create()`'s, saved (the first saved wins a race). */
  async accountKey(directoryUrl: string, create: () => Promise<string>): Promise<string> {
    const stored = (await this.pool.query<{ k: string | null }>('SELECT routing.acme_account($1) AS k', [directoryUrl])).rows[0]?.k;
    if (stored) return decrypt(this.certKey, stored);
    const fresh = await encrypt(this.certKey, await create());
    const kept = (await this.pool.query<{ k: string }>('SELECT routing.acme_save_account($1, $2) AS k', [directoryUrl, fresh])).rows[0]!.k;
    return decrypt(this.certKey, kept);
  }
}
