import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';

/** The Worker secrets a local stack needs; made once and kept so restarts keep decrypting old data. */
export interface StackSecrets {
  ENV_ENCRYPTION_KEY: string;
  SCHEDULER_SIGNING_KEY: string;
}

export async function loadOrCreateSecrets(path: string): Promise<StackSecrets> {
  if (existsSync(path)) {
    await chmod(path, 0o600); // an older stack wrote it with the default mode
    return JSON.parse(await readFile(path, 'utf8')) as StackSecrets;
  }
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: `k${Date.now().toString(36)}`, alg: 'ES256' };
  const secrets: StackSecrets = {
    ENV_ENCRYPTION_KEY: Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64'),
    SCHEDULER_SIGNING_KEY: JSON.stringify(jwk),
  };
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFile(path, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
}
