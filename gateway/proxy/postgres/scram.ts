/**
 * The *server* side of SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL uses it: the gateway
 * towards its clients, with the session ticket as the password. The primitives and the client
 * side live in shared/postgres/scram.ts (the gateway may import gateway-client, never
 * the reverse); they are re-exported here so the proxy has one place to import SCRAM from.
 * @see https://www.postgresql.org/docs/current/sasl-authentication.html
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import {
  attributes,
  DEFAULT_SCRAM_ITERATIONS,
  hmac,
  isPrintableNonce,
  newNonce,
  ScramError,
  saltedPassword,
  sha256,
  xor,
} from '../../../shared/postgres/scram.ts';

export {
  DEFAULT_SCRAM_ITERATIONS,
  MAX_SCRAM_ITERATIONS,
  SCRAM_SHA_256,
  ScramClient,
  ScramError,
} from '../../../shared/postgres/scram.ts';

/**
 * The server side of one exchange. Usage:
 *
 *     const server = new ScramServer(() => ticket);
 *     send(AuthenticationSASLContinue, server.firstMessage(clientFirst));
 *     send(AuthenticationSASLFinal, await server.finalMessage(clientFinal));   // throws ScramError
 */
export class ScramServer {
  private clientFirstBare = '';
  private serverFirst = '';
  private gs2Header = '';
  private nonce = '';
  private readonly salt: Buffer;
  private readonly iterations: number;
  private readonly serverNonce: string;

  constructor(
    /** The password the client must prove it knows. */
    private readonly password: string,
    /** Fixed values for test vectors; random (and PostgreSQL's 4096 iterations) by default. */
    options: { salt?: Buffer; iterations?: number; nonce?: string } = {},
  ) {
    this.salt = options.salt ?? randomBytes(16);
    this.iterations = options.iterations ?? DEFAULT_SCRAM_ITERATIONS;
    this.serverNonce = options.nonce ?? newNonce();
  }

  /** client-first-message → server-first-message. */
  firstMessage(clientFirst: Buffer | null): Buffer {
    if (clientFirst === null)
      throw new ScramError('The SCRAM exchange sent no client-first-message');
    const text = clientFirst.toString('utf8');
    // gs2-header = gs2-cbind-flag "," [ authzid ] ","
    const match = /^([npy])(=[^,]*)?,([^,]*),(.*)$/s.exec(text);
    if (!match) throw new ScramError('Malformed SCRAM client-first-message');
    const [, flag, cbName, authzid, bare] = match;
    if (flag === 'p' || cbName !== undefined) {
      throw new ScramError(
        'The client asked for SCRAM channel binding, which this gateway does not offer (it offered SCRAM-SHA-256 only)',
      );
    }
    if (authzid !== '') throw new ScramError('SCRAM authorization identities are not supported');
    const attrs = attributes(bare!, 'client-first-message');
    const clientNonce = attrs.get('r');
    if (!attrs.has('n') || clientNonce === undefined || !isPrintableNonce(clientNonce)) {
      throw new ScramError('Malformed SCRAM client-first-message: missing user or nonce');
    }
    if (bare!.startsWith('m=')) throw new ScramError('SCRAM extensions are not supported');
    this.gs2Header = `${flag},,`;
    this.clientFirstBare = bare!;
    this.nonce = clientNonce + this.serverNonce;
    this.serverFirst = `r=${this.nonce},s=${this.salt.toString('base64')},i=${this.iterations}`;
    return Buffer.from(this.serverFirst, 'utf8');
  }

  /** client-final-message → server-final-message, once the proof checks out. */
  async finalMessage(clientFinal: Buffer): Promise<Buffer> {
    if (this.serverFirst === '') throw new ScramError('SCRAM messages out of order');
    const text = clientFinal.toString('utf8');
    const proofAt = text.lastIndexOf(',p=');
    if (proofAt < 0) throw new ScramError('Malformed SCRAM client-final-message: no proof');
    const withoutProof = text.slice(0, proofAt);
    const attrs = attributes(withoutProof, 'client-final-message');
    if (attrs.get('c') !== Buffer.from(this.gs2Header, 'utf8').toString('base64')) {
      throw new ScramError('SCRAM channel-binding data does not match the client-first-message');
    }
    if (attrs.get('r') !== this.nonce) throw new ScramError('SCRAM nonce mismatch');
    const proof = Buffer.from(text.slice(proofAt + 3), 'base64');
    if (proof.length !== 32) throw new ScramError('Malformed SCRAM client proof');

    const salted = await saltedPassword(this.password, this.salt, this.iterations);
    const storedKey = sha256(hmac(salted, 'Client Key'));
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
    const clientKey = xor(proof, hmac(storedKey, authMessage));
    if (!timingSafeEqual(sha256(clientKey), storedKey)) {
      throw new ScramError('The password (session ticket) is wrong', true);
    }
    const serverSignature = hmac(hmac(salted, 'Server Key'), authMessage);
    return Buffer.from(`v=${serverSignature.toString('base64')}`, 'utf8');
  }
}
