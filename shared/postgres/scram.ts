/**
 * SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL uses it, without channel binding: the
 * primitives both sides share and the *client* side. The client lives here, in gateway-client,
 * because two callers need it and gateway-client may not import the gateway: the gateway logs in
 * to a target that asks for SCRAM (the stored credential is the password), and the local tunnel
 * (tunnel/) logs in to the gateway (the ticket is the password). The server side, which only the
 * gateway needs, is gateway/proxy/postgres/scram.ts. Pure apart from node:crypto; the caller
 * moves the messages.
 *
 * PostgreSQL specifics (src/backend/libpq/auth-scram.c, src/interfaces/libpq/fe-auth-scram.c):
 * the user name in the SCRAM messages is ignored (the startup packet names the user), so the
 * client sends `n=` and the server does not check it; channel binding is offered as the
 * separate mechanism SCRAM-SHA-256-PLUS, which the gateway neither offers nor uses, so a client
 * may send gs2 flag `n` or `y` but not `p`.
 *
 * @see https://www.postgresql.org/docs/current/sasl-authentication.html
 */
import {
  createHash,
  createHmac,
  pbkdf2 as pbkdf2Callback,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import { promisify } from 'node:util';

export const SCRAM_SHA_256 = 'SCRAM-SHA-256';
/** PostgreSQL's default (scram_iterations); what the gateway asks its clients for. */
export const DEFAULT_SCRAM_ITERATIONS = 4096;
/** Refuse a target that asks for more: each iteration is an HMAC the gateway computes. */
export const MAX_SCRAM_ITERATIONS = 1_000_000;

const pbkdf2 = promisify(pbkdf2Callback);

/** Why a SCRAM exchange failed; the message is safe to show to the peer's user. */
export class ScramError extends Error {
  constructor(
    message: string,
    /** True when the proof was wrong (a wrong password), false for a malformed exchange. */
    readonly wrongPassword = false,
  ) {
    super(message);
    this.name = 'ScramError';
  }
}

/**
 * SASLprep (RFC 4013) as PostgreSQL's pg_saslprep applies it, simplified: ASCII passwords (every
 * ticket, and most stored credentials) are used as they are; others are NFKC-normalized, which
 * covers the mapping step for ordinary text. PostgreSQL, too, falls back to the raw bytes when a
 * password is not valid for SASLprep.
 */
export function saslPrep(password: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ASCII range test
  return /^[\x00-\x7f]*$/.test(password) ? password : password.normalize('NFKC');
}

export async function saltedPassword(
  password: string,
  salt: Buffer,
  iterations: number,
): Promise<Buffer> {
  return pbkdf2(Buffer.from(saslPrep(password), 'utf8'), salt, iterations, 32, 'sha256');
}

export function hmac(key: Buffer, text: string): Buffer {
  return createHmac('sha256', key).update(text, 'utf8').digest();
}

export function sha256(data: Buffer): Buffer {
  return createHash('sha256').update(data).digest();
}

export function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.allocUnsafe(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

/** `a=1,b=2` → Map; attribute names are single letters (RFC 5802 §5.1). */
export function attributes(message: string, what: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const part of message.split(',')) {
    if (!/^[A-Za-z]=/.test(part)) {
      throw new ScramError(`Malformed SCRAM ${what}: expected attribute=value, got "${part}"`);
    }
    map.set(part[0]!, part.slice(2));
  }
  return map;
}

/** A nonce of printable characters without ',' (RFC 5802 §5.1): base64 qualifies. */
export function newNonce(): string {
  return randomBytes(18).toString('base64');
}

export function isPrintableNonce(nonce: string): boolean {
  return nonce.length > 0 && /^[\x21-\x2b\x2d-\x7e]+$/.test(nonce);
}

// ---------------------------------------------------------------- client side

/**
 * The client side of one exchange:
 *
 *     const client = new ScramClient(password);
 *     send(SASLInitialResponse('SCRAM-SHA-256', client.firstMessage()));
 *     send(SASLResponse(await client.finalMessage(serverFirst)));
 *     client.verifyServerFinal(serverFinal);                       // throws ScramError
 */
export class ScramClient {
  private readonly clientNonce: string;
  private readonly clientFirstBare: string;
  private expectedServerSignature: Buffer | undefined;

  constructor(
    private readonly password: string,
    /** Fixed values for test vectors. PostgreSQL ignores the SCRAM user name: '' by default. */
    options: { nonce?: string; user?: string } = {},
  ) {
    this.clientNonce = options.nonce ?? newNonce();
    this.clientFirstBare = `n=${options.user ?? ''},r=${this.clientNonce}`;
  }

  firstMessage(): Buffer {
    return Buffer.from(`n,,${this.clientFirstBare}`, 'utf8');
  }

  async finalMessage(serverFirst: Buffer): Promise<Buffer> {
    const text = serverFirst.toString('utf8');
    const attrs = attributes(text, 'server-first-message');
    const nonce = attrs.get('r');
    const salt = attrs.get('s');
    const iterations = Number(attrs.get('i'));
    if (nonce === undefined || !nonce.startsWith(this.clientNonce) || nonce === this.clientNonce) {
      throw new ScramError('The server answered SCRAM with a nonce that does not extend ours');
    }
    if (salt === undefined || salt === '') throw new ScramError('The server sent no SCRAM salt');
    if (!Number.isInteger(iterations) || iterations < 1 || iterations > MAX_SCRAM_ITERATIONS) {
      throw new ScramError(
        `The server asked for ${attrs.get('i')} SCRAM iterations; the gateway accepts 1 to ${MAX_SCRAM_ITERATIONS}`,
      );
    }
    const salted = await saltedPassword(this.password, Buffer.from(salt, 'base64'), iterations);
    const withoutProof = `c=biws,r=${nonce}`; // biws = base64("n,,")
    const authMessage = `${this.clientFirstBare},${text},${withoutProof}`;
    const clientKey = hmac(salted, 'Client Key');
    const proof = xor(clientKey, hmac(sha256(clientKey), authMessage));
    this.expectedServerSignature = hmac(hmac(salted, 'Server Key'), authMessage);
    return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`, 'utf8');
  }

  /** Checks the server's signature: a server that does not know the password fails here. */
  verifyServerFinal(serverFinal: Buffer): void {
    const attrs = attributes(serverFinal.toString('utf8'), 'server-final-message');
    const error = attrs.get('e');
    if (error !== undefined) throw new ScramError(`The server refused SCRAM: ${error}`);
    const signature = Buffer.from(attrs.get('v') ?? '', 'base64');
    const expected = this.expectedServerSignature;
    if (
      expected === undefined ||
      signature.length !== expected.length ||
      !timingSafeEqual(signature, expected)
    ) {
      throw new ScramError("The server's SCRAM signature is wrong: it does not know the password");
    }
  }
}
