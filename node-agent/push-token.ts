/** Verifies a pushed desired-state JWT against the scheduler keys received at registration. */
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { DesiredState, PUSH_JWT_MAX_AGE_S } from '../protocol/index.js';
import type { Identity } from './identity.js';

export class InvalidPushToken extends Error {
  override name = 'InvalidPushToken';
}

export async function verifyPushToken(token: string, identity: Identity | undefined): Promise<DesiredState> {
  if (!identity) throw new InvalidPushToken('agent is not registered yet, so it has no scheduler keys to check pushes with');
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(token, createLocalJWKSet(identity.jwks as JSONWebKeySet), {
      issuer: identity.issuer,
      audience: identity.audience,
      algorithms: ['ES256'],
      maxTokenAge: PUSH_JWT_MAX_AGE_S,
    }));
  } catch (err) {
    throw new InvalidPushToken(`push token rejected: ${(err as Error).message}`);
  }
  const desired = DesiredState.safeParse(payload.desired);
  if (!desired.success) throw new InvalidPushToken(`push token's "desired" claim is not a DesiredState: ${desired.error.message}`);
  return desired.data;
}
