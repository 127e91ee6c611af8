/**
 * Machine identities (issue #18): a CI job proves who it is with the token its CI system signs
 * for each job (GitHub Actions' `id-token`, GitLab's `id_tokens`, …), and gets a Witness access
 * token for minutes, never a refresh token. An admin binds an identity to the token's issuer,
 * audience and claims (repository, branch, workflow); its Witness user is what grants name.
 *
 * The token is checked with `jose` against the issuer's published keys (its discovery
 * document's `jwks_uri`): signature, `iss`, `aud`, `exp`, `nbf`; then the bound claims; and its
 * `jti` is spent, so a token caught in a log cannot be exchanged again.
 */
import { randomBytes } from 'node:crypto';
import {
  createRemoteJWKSet,
  decodeJwt,
  type JWTPayload,
  errors as joseErrors,
  jwtVerify,
} from 'jose';
import type { z } from 'zod';
import type { createMachineIdentityRequestSchema } from '../../shared/api/machineSchemas.ts';
import type { AuthService } from '../auth/authService.ts';
import type { Clock } from '../clock.ts';
import { GatewayError } from '../gatewayError.ts';
import { newId } from '../newId.ts';
import { type AccessReviewStore, reviewAccess } from '../sessions/accessReview.ts';
import { principalJson } from '../sessions/sessionPrincipal.ts';
import type { IdentityStore, UserRecord } from '../store/identityStore.ts';
import type { MachineIdentityRecord, MachineIdentityStore } from '../store/machineIdentityStore.ts';

/** A machine's access lasts at most this long (the issue's "valid for minutes"). */
export const MACHINE_ACCESS_TTL_MS = 10 * 60_000;

/** Registered claims a binding may not name: the gateway checks those itself. */
const STANDARD_CLAIMS = new Set(['iss', 'aud', 'exp', 'nbf', 'iat', 'jti']);

export interface MachineSignIn {
  accessToken: string;
  accessExpiresAt: number;
  user: UserRecord;
  identity: MachineIdentityRecord;
  claims: Record<string, unknown>;
}

export class MachineIdentities {
  private readonly keySets = new Map<string, Promise<ReturnType<typeof createRemoteJWKSet>>>();

  constructor(
    private readonly deps: {
      store: MachineIdentityStore &
        Pick<
          IdentityStore,
          | 'createUser'
          | 'getUserByUsername'
          | 'getUserById'
          | 'updateUser'
          | 'revokeAuthTokensOfUser'
        > &
        AccessReviewStore;
      auth: Pick<AuthService, 'issueAccessOnly'>;
      clock: Clock;
    },
  ) {}

  list(): Promise<MachineIdentityRecord[]> {
    return this.deps.store.listMachineIdentities();
  }

  async register(
    request: z.output<typeof createMachineIdentityRequestSchema>,
  ): Promise<MachineIdentityRecord> {
    const { store, clock } = this.deps;
    const standard = Object.keys(request.claims).filter((claim) => STANDARD_CLAIMS.has(claim));
    if (standard.length > 0) {
      throw new GatewayError(
        'bad_request',
        `Bind ${standard.join(', ')} with issuer and audience, not as claims: the gateway checks those itself.`,
      );
    }
    if (await store.getUserByUsername(request.name)) {
      throw new GatewayError('conflict', `A user or machine named ${request.name} already exists.`);
    }
    const user = await store.createUser({
      id: newId('usr'),
      username: request.name,
      role: 'engineer',
      groups: request.groups,
      passwordHash: null,
      createdAt: clock.now(),
    });
    const identity: MachineIdentityRecord = {
      id: `mid_${randomBytes(10).toString('hex')}`,
      name: request.name,
      userId: user.id,
      issuer: request.issuer,
      audience: request.audience,
      claims: request.claims,
      createdAt: clock.now(),
    };
    await store.createMachineIdentity(identity);
    return identity;
  }

  /** Removes the identity; its user is disabled (kept for history) and its sessions end. */
  async remove(name: string): Promise<void> {
    const { store, clock } = this.deps;
    const identity = await store.getMachineIdentityByName(name);
    if (!identity) throw new GatewayError('not_found', `No machine identity named ${name}.`);
    await store.updateUser(identity.userId, { disabled: true });
    await store.revokeAuthTokensOfUser(identity.userId, clock.now());
    await store.deleteMachineIdentity(identity.id);
    await reviewAccess(store, clock, { userId: identity.userId });
  }

  /** A workload token → minutes of access as the identity it matches. */
  async exchange(token: string): Promise<MachineSignIn> {
    const { store, clock } = this.deps;
    let issuer: string | undefined;
    try {
      issuer = decodeJwt(token).iss;
    } catch {
      throw refused('This is not a signed JWT — pass the ID token your CI job received.');
    }
    const candidates = (await store.listMachineIdentities()).filter((m) => m.issuer === issuer);
    if (!issuer || candidates.length === 0) {
      throw refused(`No machine identity trusts tokens from issuer ${issuer ?? '(none)'}.`);
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, await this.keySet(issuer), {
        issuer,
        requiredClaims: ['exp', 'jti', 'aud'],
        currentDate: new Date(clock.now()),
      }));
    } catch (error) {
      throw refused(`The token did not verify: ${verifyFailure(error)}.`);
    }
    const audiences = typeof payload.aud === 'string' ? [payload.aud] : (payload.aud ?? []);
    const forAudience = candidates.filter((m) => audiences.includes(m.audience));
    if (forAudience.length === 0) {
      throw refused(
        `The token's audience ${JSON.stringify(payload.aud)} is not one a machine identity of ${issuer} expects (${candidates.map((m) => m.audience).join(', ')}).`,
      );
    }
    const identity = forAudience.find((m) => mismatch(m, payload) === null);
    if (!identity) {
      const [first] = forAudience;
      throw refused(
        `The token's claims match no machine identity: ${first ? mismatch(first, payload) : ''}.`,
      );
    }
    const expiresAt = (payload.exp ?? 0) * 1000;
    if (!(await store.spendMachineToken(issuer, String(payload.jti), expiresAt))) {
      throw refused(
        'This token was already used: each CI token works once — request a fresh one in the job.',
      );
    }
    const user = await store.getUserById(identity.userId);
    if (!user || user.disabled) {
      throw refused(`The machine identity ${identity.name} is disabled — ask an admin.`);
    }
    const claims = Object.fromEntries(
      Object.entries(payload).filter(([claim]) => !STANDARD_CLAIMS.has(claim)),
    );
    const access = await this.deps.auth.issueAccessOnly(user, MACHINE_ACCESS_TTL_MS);
    await store.insertMachineSignIn({
      familyId: access.familyId,
      identityId: identity.id,
      claims,
      createdAt: clock.now(),
    });
    return { ...access, user, identity, claims };
  }

  /** The session principal of a machine's sign-in (sessionPrincipal.ts), or undefined. */
  async principalFor(familyId: string): Promise<string | undefined> {
    const signIn = await this.deps.store.getMachineSignIn(familyId);
    if (!signIn) return undefined;
    const identity = (await this.deps.store.listMachineIdentities()).find(
      (m) => m.id === signIn.identityId,
    );
    return principalJson({
      kind: 'machine',
      identity: identity?.name ?? signIn.identityId,
      claims: signIn.claims,
    });
  }

  // The issuer's keys, from its discovery document; jose refetches on an unknown key id.
  private keySet(issuer: string): Promise<ReturnType<typeof createRemoteJWKSet>> {
    let keys = this.keySets.get(issuer);
    if (!keys) {
      keys = (async () => {
        const discovery = new URL(`${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`);
        const response = await fetch(discovery, { signal: AbortSignal.timeout(10_000) });
        if (!response.ok) throw new Error(`${discovery} answered ${response.status}`);
        const { jwks_uri: jwksUri } = (await response.json()) as { jwks_uri?: string };
        if (!jwksUri) throw new Error(`${discovery} names no jwks_uri`);
        return createRemoteJWKSet(new URL(jwksUri));
      })();
      keys.catch(() => this.keySets.delete(issuer));
      this.keySets.set(issuer, keys);
    }
    return keys;
  }
}

/** Which bound claim the token does not carry as required, or null when all match. */
function mismatch(identity: MachineIdentityRecord, payload: JWTPayload): string | null {
  for (const [claim, expected] of Object.entries(identity.claims)) {
    const actual = payload[claim];
    if (actual !== expected) {
      return `${claim} is ${actual === undefined ? 'missing' : JSON.stringify(actual)} where ${identity.name} needs ${JSON.stringify(expected)}`;
    }
  }
  return null;
}

function verifyFailure(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'it has expired';
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) {
    return 'its signature is not the issuer’s';
  }
  if (error instanceof joseErrors.JWKSNoMatchingKey)
    return 'the issuer has no key it was signed with';
  if (error instanceof joseErrors.JWTClaimValidationFailed)
    return `${error.claim}: ${error.reason}`;
  return error instanceof Error ? error.message : String(error);
}

function refused(message: string): GatewayError {
  return new GatewayError('invalid_credentials', message);
}
