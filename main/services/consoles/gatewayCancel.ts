/**
 * Cancels the console's running query the way psql does: a *new* connection to the gateway's
 * PostgreSQL listener carrying only a CancelRequest with the key the gateway handed out in
 * BackendKeyData. The gateway maps its own key to the target's real one and cancels there
 * (gateway/proxy/postgres/cancelKeys.ts), so the cancel is also a fact the gateway sees.
 * The leg is TLS verified against the pinned gateway CA, as the session's own connection is.
 * @see https://www.postgresql.org/docs/15/protocol-flow.html#PROTOCOL-FLOW-CANCELING-REQUESTS
 */
import { connect as connectTcp, isIP } from 'node:net';
import { connect as connectTls } from 'node:tls';
import {
  encodeCancelRequest,
  encodeSslRequest,
} from '../../../gateway-client/tunnel/tunnelWire.ts';

export interface CancelTarget {
  host: string;
  port: number;
  caPem: string;
  processId: number;
  secretKey: Buffer;
}

/** Resolves once the CancelRequest is written (PostgreSQL never answers one). */
export function sendCancelRequest(target: CancelTarget, timeoutMs = 5_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const tcp = connectTcp(target.port, target.host);
    const timer = setTimeout(
      () => fail(new Error('the gateway did not answer in time')),
      timeoutMs,
    );
    let settled = false;
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      tcp.destroy();
      reject(error);
    };
    tcp.once('error', fail);
    tcp.once('connect', () => {
      tcp.setNoDelay(true);
      tcp.write(encodeSslRequest());
      tcp.once('data', (answer: Buffer) => {
        // 'S' alone: nothing may precede the TLS handshake (CVE-2021-23222).
        if (answer.length !== 1 || answer[0] !== 0x53) {
          fail(new Error('the gateway did not offer TLS for the cancel request'));
          return;
        }
        const tls = connectTls({
          socket: tcp,
          ca: target.caPem,
          host: target.host,
          ...(isIP(target.host) === 0 && { servername: target.host }),
        });
        tls.once('error', fail);
        tls.once('secureConnect', () => {
          tls.end(encodeCancelRequest(target.processId, target.secretKey), () => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            resolve();
          });
        });
      });
    });
  });
}
