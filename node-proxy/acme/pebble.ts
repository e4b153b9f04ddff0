/**
 * Test support: Pebble, Let's Encrypt's test CA (Debian package `pebble`, installed here when
 * missing), with pebble-challtestsrv as its DNS server so test host names resolve to 127.0.0.1
 * (or wherever `setA` says). Pebble's HTTPS listener gets a throwaway openssl certificate.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../dev/ports.js';
import { eventually } from '../testing.js';

export interface Pebble {
  directoryUrl: string;
  /** Trust anchor of Pebble's own HTTPS listeners (directory and management). */
  listenerCa: string;
  /** The root that signs the certificates Pebble issues. */
  issuingRoot(): Promise<string>;
  /** Makes `host` resolve to `address` for Pebble's validation. */
  setA(host: string, address: string): Promise<void>;
  stop(): Promise<void>;
}

/** Installs pebble with apt when missing; a reason to skip when it cannot be had. */
export function ensurePebble(): string | null {
  const have = () => existsSync('/usr/bin/pebble') && existsSync('/usr/bin/pebble-challtestsrv');
  if (have()) return null;
  try {
    execFileSync('apt-get', ['install', '-y', '-o', 'DPkg::Lock::Timeout=120', 'pebble'], { stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  } catch (err) {
    return `pebble is not installed and "apt-get install -y pebble" failed (${(err as Error).message.split('\n')[0]}): install it to run this test`;
  }
  return have() ? null : 'the pebble package installed no /usr/bin/pebble and /usr/bin/pebble-challtestsrv';
}

/** Starts challtestsrv and Pebble, validating HTTP-01 challenges on `httpPort` of the resolved address. */
export async function startPebble(httpPort: number): Promise<Pebble> {
  const dir = mkdtempSync(join(tmpdir(), 'zectre-pebble-'));
  const [acmePort, mgmtPort, dnsPort, dnsMgmtPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=pebble test listener',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
  ], { stdio: 'ignore' });
  const listenerCa = readFileSync(join(dir, 'cert.pem'), 'utf8');
  writeFileSync(join(dir, 'pebble.json'), JSON.stringify({
    pebble: {
      listenAddress: `127.0.0.1:${acmePort}`,
      managementListenAddress: `127.0.0.1:${mgmtPort}`,
      certificate: join(dir, 'cert.pem'),
      privateKey: join(dir, 'key.pem'),
      httpPort,
      tlsPort: await freePort(),
      ocspResponderURL: '',
      externalAccountBindingRequired: false,
    },
  }));
  const children: ChildProcess[] = [];
  const output: string[] = [];
  const run = (cmd: string, args: string[], env: NodeJS.ProcessEnv = {}) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => output.push(d.toString()));
    child.stderr!.on('data', (d: Buffer) => output.push(d.toString()));
    children.push(child);
  };
  run('pebble-challtestsrv', [
    '-dns01', `127.0.0.1:${dnsPort}`, '-management', `127.0.0.1:${dnsMgmtPort}`,
    '-http01', '', '-https01', '', '-tlsalpn01', '', '-defaultIPv4', '127.0.0.1', '-defaultIPv6', '',
  ]);
  // No random nonce rejections and no validation delay: the test waits on outcomes, not on luck.
  run('pebble', ['-config', join(dir, 'pebble.json'), '-dnsserver', `127.0.0.1:${dnsPort}`], { PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0' });
  const get = (port: number, path: string) => httpsGet(`https://127.0.0.1:${port}${path}`, listenerCa);
  const stop = async () => {
    for (const c of children) c.kill();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await eventually('pebble to serve its directory', async () => (await get(acmePort, '/dir')).status === 200, 20_000);
    await eventually('pebble-challtestsrv to answer', async () => (await post(dnsMgmtPort, '/clear-a', { host: 'ready.test.' })) === 200, 20_000);
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}; pebble said: ${output.join('').slice(-2000)}`);
  }
  return {
    directoryUrl: `https://127.0.0.1:${acmePort}/dir`,
    listenerCa,
    issuingRoot: async () => (await get(mgmtPort, '/roots/0')).body,
    setA: async (host, address) => {
      const status = await post(dnsMgmtPort, '/add-a', { host: `${host}.`, addresses: [address] });
      if (status !== 200) throw new Error(`pebble-challtestsrv /add-a answered ${status}`);
    },
    stop,
  };
}

function httpsGet(url: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, { ca, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject).end();
  });
}

async function post(port: number, path: string, body: unknown): Promise<number> {
  return (await fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', body: JSON.stringify(body) })).status;
}
