import type { Protocol } from '../../shared/api/apiSchemas.ts';
import type { AuditRecorder } from '../audit/auditTrail.ts';
import { hashOpaqueToken, newOpaqueToken } from '../auth/opaqueTokens.ts';
import type { Clock } from '../clock.ts';
import { GatewayError } from '../gatewayError.ts';
import { newId } from '../newId.ts';
import { decideAccess, isWithinWindow, sessionEnd } from '../policy/accessDecision.ts';
import type {
  GrantRecord,
  GrantStore,
  ResourceRecord,
  ResourceStore,
} from '../store/catalogStore.ts';
import type { UserDirectory, UserRecord } from '../store/identityStore.ts';
import type { SessionRecord, SessionStore } from '../store/sessionStore.ts';

/** How long a fresh ticket can be used to connect (DESIGN.md: "valid for about 60 s"). */
export const TICKET_TTL_MS = 60_000;

export interface ListenerAddress {
  host: string;
  port: number;
}
export type ListenerAddresses = Partial<Record<Protocol, ListenerAddress>>;

export interface IssuedSession {
  session: SessionRecord;
  ticket: string;
  endpoint: ({ protocol: Protocol } & ListenerAddress) | null;
}

/**
 * Session lifecycle on the control plane: a user with an active standing grant gets a session
 * row plus a single-use connect ticket; a listener redeems the ticket exactly once; anyone
 * allowed may terminate. The ticket itself is returned once and only its hash is stored.
 */
export class SessionService {
  /** Set while draining (issue #17): why new connections are refused. */
  private refusal: string | undefined;

  constructor(
    private readonly store: SessionStore &
      Pick<UserDirectory, 'getUserById'> &
      Pick<ResourceStore, 'getResource' | 'getResourceByName'> &
      Pick<GrantStore, 'getGrant' | 'listGrants'>,
    private readonly clock: Clock,
    private readonly listeners: () => ListenerAddresses,
    /** Where every access decision goes (issue #14): allowed with its grant, or refused and why. */
    private readonly audit?: AuditRecorder,
  ) {}

  /**
   * The resource and the standing grant that let `user` use it now, or the GatewayError that
   * says why not (needs approval, outside the window, none). Database certificates are issued
   * and honoured by the same rule as sessions (issue #15).
   */
  async grantFor(
    user: UserRecord,
    resourceIdOrName: string,
  ): Promise<{ resource: ResourceRecord; grant: GrantRecord }> {
    const resource = await this.findResource(resourceIdOrName);
    const now = this.clock.now();
    const decision = decideAccess(user, resource, await this.store.listGrants(), now);
    switch (decision.kind) {
      case 'granted':
        break;
      case 'requestable':
        throw new GatewayError(
          'access_request_required',
          `Access to ${resource.name} needs approval — request access with a reason, then connect again.`,
        );
      case 'outside_window': {
        const { validFrom, validUntil } = decision.grant;
        const when =
          validUntil !== null && validUntil <= now
            ? `expired at ${new Date(validUntil).toISOString()}`
            : `starts at ${new Date(validFrom ?? now).toISOString()}`;
        throw new GatewayError(
          'no_active_grant',
          user.role === 'admin'
            ? `Your access to ${resource.name} ${when} — ${addGrantHint(user, resource)}`
            : `Your access to ${resource.name} ${when} — ask an admin or request access again.`,
        );
      }
      case 'none':
        // An admin sees every resource but holds no standing access either (issue #14): tell
        // them the command that gives it, not to ask themselves.
        throw new GatewayError(
          'no_active_grant',
          user.role === 'admin'
            ? `You have no active grant for ${resource.name} — ${addGrantHint(user, resource)}`
            : `You have no active grant for ${resource.name} — ask an admin for access.`,
        );
    }
    return { resource, grant: decision.grant };
  }

  /**
   * `principal`: JSON naming the machine identity (and its token's claims) that asked, when a
   * machine did (issue #18); the proxies put it into the signed session-start frame.
   */
  async createSession(
    user: UserRecord,
    resourceIdOrName: string,
    principal?: string,
  ): Promise<IssuedSession> {
    return this.auditedDecision(user, resourceIdOrName, 'ticket', async () => {
      const { resource, grant } = await this.grantFor(user, resourceIdOrName);
      return this.issueSession(user, resource, grant, principal);
    });
  }

  /**
   * Every access decision goes to the audit log (issue #14): allowed with the session and grant
   * it was opened under, or refused and why — for tickets and database certificates alike.
   */
  private async auditedDecision(
    user: UserRecord,
    resourceIdOrName: string,
    via: 'ticket' | 'certificate',
    decide: () => Promise<IssuedSession>,
  ): Promise<IssuedSession> {
    let issued: IssuedSession;
    try {
      issued = await decide();
    } catch (error) {
      await this.audit?.record({
        actor: { id: user.id, name: user.username },
        action: 'session.refused',
        target: `/resources/${resourceIdOrName}`,
        outcome: 'refused',
        details: {
          via,
          reason: error instanceof GatewayError ? error.message : 'unexpected error',
          code: error instanceof GatewayError ? error.code : 'internal',
        },
      });
      throw error;
    }
    const { session } = issued;
    await this.audit?.record({
      actor: { id: user.id, name: user.username },
      action: 'session.allowed',
      target: `/resources/${session.resourceId}`,
      outcome: 'allowed',
      details: {
        via,
        sessionId: session.id,
        grantId: session.grantId,
        requestId: session.requestId,
        expiresAt: session.expiresAt,
      },
    });
    return issued;
  }

  /**
   * A connection that presented a database client certificate (issue #15). The certificate
   * only names the user and the resource; the client must ask for the same ones (`user=` the
   * user name, `dbname=` the resource), and access is decided now by the rule sessions are
   * opened by, so a disabled user or a revoked grant is refused whatever the certificate's
   * validity. The connection is a session of its own, as if a ticket had been issued and
   * redeemed at once (the same rows, checks and live-session handling).
   */
  async openCertificateSession(
    certified: { userId: string; resourceId: string },
    asked: { user: string; database: string },
  ): Promise<{ session: SessionRecord; resource: ResourceRecord; user: UserRecord }> {
    if (this.refusal !== undefined) throw new GatewayError('unavailable', this.refusal);
    const user = await this.store.getUserById(certified.userId);
    if (!user || user.disabled) {
      throw new GatewayError(
        'no_active_grant',
        'Connection refused: your Witness account is disabled — ask an admin.',
      );
    }
    if (asked.user !== user.username) {
      throw new GatewayError(
        'forbidden',
        `This certificate is for the Witness user ${user.username}; connect with user=${user.username}.`,
      );
    }
    const wanted =
      (await this.store.getResource(asked.database)) ??
      (await this.store.getResourceByName(asked.database));
    if (wanted?.id !== certified.resourceId) {
      const certifiedFor = await this.store.getResource(certified.resourceId);
      throw new GatewayError(
        'forbidden',
        certifiedFor
          ? `This certificate is for ${certifiedFor.name}, not ${asked.database} — run \`witness db login ${asked.database}\` for one, or connect with dbname=${certifiedFor.name}.`
          : `The resource this certificate was issued for no longer exists — run \`witness db login ${asked.database}\` for a new one.`,
      );
    }
    // Not through createSession: the ticket never leaves this call, so no listener cache
    // (scramTickets.ts wraps createSession) should keep it.
    const issued = await this.auditedDecision(user, wanted.id, 'certificate', async () => {
      const { resource, grant } = await this.grantFor(user, wanted.id);
      return this.issueSession(user, resource, grant);
    });
    return this.redeemTicket(issued.session.id, issued.ticket);
  }

  private async issueSession(
    user: UserRecord,
    resource: ResourceRecord,
    grant: GrantRecord,
    principal?: string,
  ): Promise<IssuedSession> {
    const now = this.clock.now();
    const ticket = newOpaqueToken('wtk');
    const session: SessionRecord = {
      id: newId('ses'),
      userId: user.id,
      resourceId: resource.id,
      grantId: grant.id,
      state: 'pending',
      ticketHash: hashOpaqueToken(ticket),
      ticketExpiresAt: now + TICKET_TTL_MS,
      ticketUsedAt: null,
      createdAt: now,
      startedAt: null,
      endedAt: null,
      expiresAt: sessionEnd(grant, now),
      endReason: null,
      // A time-boxed grant an approval issued names its request; the session keeps it (#14).
      requestId: grant.requestId,
      principal: principal ?? null,
    };
    await this.store.createSession(session);
    const address = this.listeners()[resource.kind];
    return {
      session,
      ticket,
      endpoint: address ? { protocol: resource.kind, ...address } : null,
    };
  }

  /**
   * Called by a listener when a client presents `sessionId` + ticket. Succeeds once; the
   * error says why otherwise (replayed, expired, wrong), without revealing whether a session
   * id exists to someone holding no valid ticket for it.
   */
  /**
   * Draining (issue #17): every later ticket or certificate login is refused with `message`,
   * before the ticket is spent, so the client can use it again through another replica.
   */
  refuseNewConnections(message: string): void {
    this.refusal = message;
  }

  async redeemTicket(
    sessionId: string,
    ticket: string,
  ): Promise<{ session: SessionRecord; resource: ResourceRecord; user: UserRecord }> {
    if (this.refusal !== undefined) throw new GatewayError('unavailable', this.refusal);
    const now = this.clock.now();
    const ticketHash = hashOpaqueToken(ticket);
    const session = await this.store.redeemTicket(sessionId, ticketHash, now);
    if (!session) throw await this.explainRefusedTicket(sessionId, ticketHash, now);
    // The grant or user may have changed since the ticket was issued.
    const [user, resource, grant] = await Promise.all([
      this.store.getUserById(session.userId),
      this.store.getResource(session.resourceId),
      this.store.getGrant(session.grantId),
    ]);
    const refusal =
      !user || user.disabled
        ? 'the account is disabled'
        : !resource
          ? 'the resource was deleted'
          : !grant || !isWithinWindow(grant, now)
            ? 'the grant was revoked or has expired'
            : null;
    if (refusal || !user || !resource) {
      await this.store.endSession(session.id, `refused at connect: ${refusal}`, now);
      await this.audit?.record({
        actor: user ? { id: user.id, name: user.username } : null,
        action: 'session.refused',
        target: `/resources/${session.resourceId}`,
        outcome: 'refused',
        details: {
          sessionId: session.id,
          grantId: session.grantId,
          reason: `at connect: ${refusal}`,
        },
      });
      throw new GatewayError('no_active_grant', `Connection refused: ${refusal}.`);
    }
    return { session, resource, user };
  }

  async terminate(sessionId: string, reason: string): Promise<SessionRecord> {
    const ended = await this.store.endSession(sessionId, reason, this.clock.now());
    const session = ended ?? (await this.store.getSession(sessionId));
    if (!session) throw new GatewayError('not_found', `There is no session ${sessionId}.`);
    return session;
  }

  private async findResource(idOrName: string): Promise<ResourceRecord> {
    const resource =
      (await this.store.getResource(idOrName)) ?? (await this.store.getResourceByName(idOrName));
    if (!resource) {
      throw new GatewayError(
        'not_found',
        `There is no resource '${idOrName}' — list the resources you can use with \`witness resources\`.`,
      );
    }
    return resource;
  }

  private async explainRefusedTicket(
    sessionId: string,
    ticketHash: string,
    now: number,
  ): Promise<GatewayError> {
    const session = await this.store.getSession(sessionId);
    if (!session || session.ticketHash !== ticketHash) {
      return new GatewayError(
        'unauthenticated',
        'The session ticket is not valid — start a new session.',
      );
    }
    if (session.ticketUsedAt !== null) {
      return new GatewayError(
        'unauthenticated',
        'This session ticket was already used — tickets work once; start a new session.',
      );
    }
    if (session.ticketExpiresAt <= now) {
      return new GatewayError(
        'token_expired',
        'This session ticket expired (tickets are valid for 60 s) — start a new session.',
      );
    }
    return new GatewayError(
      'unauthenticated',
      `The session has ended (${session.endReason ?? 'ended'}).`,
    );
  }
}

/** For admins: the one command that grants them (or anyone) the resource. */
function addGrantHint(user: UserRecord, resource: ResourceRecord): string {
  return `add a grant: witness admin grants add --user ${user.username} --resource ${resource.name}`;
}
