import { GatewayError } from '../gatewayError.ts';
import type { SqlParser } from '../policy/sqlParse.ts';
import { tryPolicy } from '../proxy/postgres/policyTrial.ts';
import type { ResourceCatalog } from '../resources/resourceCatalog.ts';
import type { HostKeyScanner } from '../resources/sshResourceKeys.ts';
import type { HandlersFor } from './apiRoute.ts';

/** The routes this module serves (issue #14): admins' tools around resources and policies. */
export type ResourceAdminRouteName = 'scanHostKey' | 'testResource' | 'tryPolicy';

export interface ResourceAdminServices {
  resources: Pick<ResourceCatalog, 'testConnection'>;
  /** Reads the host key an SSH server presents (proxy/ssh/scanHostKey.ts). */
  scanHostKey: HostKeyScanner;
  /** The process's PostgreSQL parser, loaded once on first use (policy/sqlParse.ts). */
  sqlParser: () => Promise<SqlParser>;
}

/** Host key scan, connection test and policy trial; the table allows admins only. */
export function resourceAdminHandlers(
  services: ResourceAdminServices,
): HandlersFor<ResourceAdminRouteName> {
  return {
    scanHostKey: async ({ body }) => {
      try {
        const scanned = await services.scanHostKey(body.host, body.port);
        return {
          host: body.host,
          port: body.port,
          keyType: scanned.keyLine.split(' ')[0] ?? 'unknown',
          fingerprint: scanned.fingerprint,
          publicKey: scanned.keyLine,
        };
      } catch (error) {
        throw new GatewayError(
          'bad_request',
          `Could not read the SSH host key of ${body.host}:${body.port}: ${(error as Error).message}`,
          { issues: [{ path: 'host', message: 'no SSH host key could be read there' }] },
        );
      }
    },
    testResource: async ({ params }) => services.resources.testConnection(params.id),
    tryPolicy: async ({ body }) =>
      tryPolicy(await services.sqlParser(), {
        policy: body.policy,
        sampleQuery: body.sampleQuery,
        sampleResult: body.sampleResult,
      }),
  };
}
