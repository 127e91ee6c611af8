import type { CreateDbCertificateRequest, DbCertificate } from '../../shared/api/apiSchemas.ts';
import type { Clock } from '../clock.ts';
import { issueClientCertificate, type PemCertificateAndKey } from '../config/tlsCertificates.ts';
import { GatewayError } from '../gatewayError.ts';
import { grantExpiry } from '../policy/accessDecision.ts';
import type { ListenerAddresses, SessionService } from '../sessions/sessionService.ts';
import type { GrantStore } from '../store/catalogStore.ts';
import type { UserRecord } from '../store/identityStore.ts';
import { certificateUris } from './certificateIdentity.ts';

export interface DbCertificateIssuerDeps {
  sessions: Pick<SessionService, 'grantFor'>;
  store: Pick<GrantStore, 'listGrants'>;
  clock: Clock;
  /** Signs the certificates (the data directory's client CA). */
  clientCa: PemCertificateAndKey;
  /** The gateway's TLS CA, handed back for `sslrootcert`. */
  serverCaPem: string;
  listeners: () => ListenerAddresses;
}

/**
 * `POST /v1/db-certificates` (issue #15): a client certificate for the signed-in user and one
 * PostgreSQL resource, for a key the client generated. It is issued only while a standing
 * grant allows the resource (the rule sessions are opened by), and lives for the asked TTL but
 * never past the end of that access, so a certificate never outlives the grant that justified
 * it. It is a credential to *connect*: the listener decides access again on every connection.
 */
export class DbCertificateIssuer {
  constructor(private readonly deps: DbCertificateIssuerDeps) {}

  async issue(
    user: UserRecord,
    request: Required<CreateDbCertificateRequest>,
  ): Promise<DbCertificate> {
    const { resource } = await this.deps.sessions.grantFor(user, request.resource);
    if (resource.kind !== 'postgres') {
      throw new GatewayError(
        'bad_request',
        `${resource.name} is a ${resource.kind} resource; database certificates are for PostgreSQL resources.`,
      );
    }
    const now = this.deps.clock.now();
    const accessEnds = grantExpiry(user, resource, await this.deps.store.listGrants(), now);
    const notAfter = Math.min(now + request.ttlSeconds * 1000, accessEnds ?? Infinity);
    let issued: ReturnType<typeof issueClientCertificate>;
    try {
      issued = issueClientCertificate(this.deps.clientCa, {
        publicKeyPem: request.publicKeyPem,
        commonName: user.username,
        uris: certificateUris({ userId: user.id, resourceId: resource.id }),
        notAfter: new Date(notAfter),
        now: new Date(now),
      });
    } catch (error) {
      throw new GatewayError(
        'bad_request',
        `No certificate was issued: ${error instanceof Error ? error.message : String(error)}.`,
      );
    }
    const address = this.deps.listeners().postgres;
    return {
      certificatePem: issued.certPem,
      caPem: this.deps.serverCaPem,
      notBefore: issued.notBefore.toISOString(),
      notAfter: issued.notAfter.toISOString(),
      username: user.username,
      resource: { id: resource.id, name: resource.name },
      endpoint: address ? { protocol: 'postgres', ...address } : null,
    };
  }
}
