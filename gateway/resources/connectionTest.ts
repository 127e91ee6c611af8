/**
 * An admin's "test connection" (issue #14): reach a resource's target the way a session would,
 * with the stored credential, and say which step failed — `dns`, `tcp`, `tls` (PostgreSQL),
 * `host_key` (SSH), `auth` — or that every step passed, with how long each took.
 *
 * DNS and TCP are tried here on their own, so a wrong host name and a closed port are told
 * apart before any protocol starts. The login itself is the proxies' own upstream code
 * (gateway/proxy/{ssh,postgres}/upstream.ts), so the test passes exactly when a session's
 * connection to the target would; nothing of the target's answer but the message is kept, and
 * the credential never leaves this module.
 */
import { lookup } from 'node:dns/promises';
import { connect as connectTcp } from 'node:net';
// The credential as the catalog opens it (resourceCatalog.ts names it TargetCredential); taken
// from the shared schema so the catalog, which calls this test, is not imported back.
import type {
  ConnectionTestResult,
  ConnectionTestStep,
  ResourceTarget,
  ResourceSecretInput as TargetCredential,
} from '../../shared/api/apiSchemas.ts';
import { encodeFrontend } from '../../shared/postgres/codec.ts';
import { connectUpstream as connectPostgres, UpstreamError } from '../proxy/postgres/upstream.ts';
import { connectUpstream as connectSsh, UpstreamRefusal } from '../proxy/ssh/upstream.ts';

export interface ConnectionTestOptions {
  /** Per step (DNS, TCP) and for the login as a whole; default 10 s. */
  timeoutMs?: number;
}

type StepResult = ConnectionTestResult['steps'][number];

const DEFAULT_TIMEOUT_MS = 10_000;

/** Runs the steps in order and stops at the first that fails. Never throws. */
export async function testConnection(
  name: string,
  target: ResourceTarget,
  credential: TargetCredential | null,
  options: ConnectionTestOptions = {},
): Promise<ConnectionTestResult> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const started = performance.now();
  const steps: StepResult[] = [];
  let mark = started;
  const pass = (step: ConnectionTestStep, detail: string | null = null) => {
    const now = performance.now();
    steps.push({ step, ok: true, ms: round(now - mark), detail });
    mark = now;
  };
  const fail = (
    step: ConnectionTestStep,
    message: string,
    hostKey: ConnectionTestResult['hostKey'] = null,
  ): ConnectionTestResult => {
    steps.push({ step, ok: false, ms: round(performance.now() - mark), detail: null });
    return {
      ok: false,
      failedStep: step,
      message,
      steps,
      totalMs: round(performance.now() - started),
      hostKey,
    };
  };
  const where = `${target.host}:${target.port}`;

  let address: string;
  try {
    address = (await withTimeout(lookup(target.host), timeoutMs, 'DNS lookup')).address;
  } catch (error) {
    return fail(
      'dns',
      `The host name ${target.host} does not resolve (${errorCode(error)}) — check the spelling, or use an IP address.`,
    );
  }
  pass('dns', address);

  try {
    await openAndClose(address, target.port, timeoutMs);
  } catch (error) {
    return fail(
      'tcp',
      `Nothing accepts connections at ${where} (${address}): ${errorCode(error)} — check the port and that the service runs and a firewall lets the gateway in.`,
    );
  }
  pass('tcp');

  if (target.kind === 'ssh') {
    try {
      const client = await connectSsh(
        {
          name,
          host: target.host,
          port: target.port,
          username: target.username,
          hostKey: target.hostKey,
        },
        credential,
        { readyTimeoutMs: timeoutMs, onHostKeyAccepted: () => pass('host_key') },
      );
      client.end();
    } catch (error) {
      if (!(error instanceof UpstreamRefusal)) return fail('auth', String(error));
      return fail(error.step, error.message, error.hostKey ?? null);
    }
    pass('auth', `logged in as ${target.username}`);
  } else {
    const usesTls = target.tlsMode !== 'disable';
    try {
      const connection = await connectPostgres(
        { name, ...target },
        credential?.password ?? null,
        new Map([['application_name', 'witness-connection-test']]),
        { timeoutMs, onTlsEstablished: () => pass('tls', 'encrypted') },
      );
      if (usesTls && !connection.tls) pass('tls', 'not encrypted: the server has no TLS (prefer)');
      connection.socket.end(encodeFrontend({ type: 'Terminate' }));
    } catch (error) {
      if (!(error instanceof UpstreamError)) return fail('auth', String(error));
      return fail(error.step ?? 'auth', error.message);
    }
    pass('auth', `logged in as ${target.username} to ${target.database}`);
  }
  const totalMs = round(performance.now() - started);
  return {
    ok: true,
    failedStep: null,
    message: `Reached ${name} and logged in as ${target.username} in ${totalMs} ms.`,
    steps,
    totalMs,
    hostKey: null,
  };
}

function openAndClose(host: string, port: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connectTcp({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(Object.assign(new Error('timed out'), { code: `no answer in ${timeoutMs / 1000} s` }));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve();
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          Object.assign(new Error(`${what} timed out`), { code: `no answer in ${ms / 1000} s` }),
        ),
      ms,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : error instanceof Error ? error.message : String(error);
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
