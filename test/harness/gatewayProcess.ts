import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { GatewayClient, type SessionTokens } from '../../gateway-client/gatewayClient.ts';

const repoRoot = path.resolve(import.meta.dirname, '..', '..');
export const GATEWAY_BIN = path.join(repoRoot, 'bin', 'witness-gateway.mjs');
export const WITNESS_BIN = path.join(repoRoot, 'bin', 'witness.mjs');

export interface ReadyLine {
  ready: true;
  api: string;
  caFingerprint: string;
  store: 'sqlite' | 'postgres';
  /** `HOST:PORT` of the SSH listener, when one runs. */
  ssh?: string;
  /** `HOST:PORT` of the PostgreSQL listener, when one runs. */
  postgres?: string;
}

export interface GatewayProcess {
  child: ChildProcess;
  ready: ReadyLine;
  stderr: () => string;
  /** SIGTERM, then wait for exit; returns the exit code. */
  stop(): Promise<number | null>;
}

/** Runs the real `witness-gateway serve` binary and waits for its JSON ready line. */
export async function spawnGateway(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  /** Extra node flags, e.g. `--cpu-prof` to profile a benchmark. */
  nodeArgs: string[] = [],
): Promise<GatewayProcess> {
  // stop() means "stop now": live sessions end at once, as before draining existed (issue #17).
  // A test of draining passes its own --drain-timeout.
  const drain = args.includes('--drain-timeout') ? [] : ['--drain-timeout', '0'];
  const child = spawn(process.execPath, [...nodeArgs, GATEWAY_BIN, 'serve', ...args, ...drain], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  const ready = await new Promise<ReadyLine>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`gateway not ready after 30 s; stderr:\n${stderr}`)),
      30_000,
    );
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const line = stdout.split('\n').find((l) => l.startsWith('{'));
      if (line) {
        clearTimeout(timer);
        resolve(JSON.parse(line) as ReadyLine);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited with ${code} before it was ready; stderr:\n${stderr}`));
    });
  });
  return {
    child,
    ready,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion with optional stdin, collecting its output. */
export function runCommand(
  program: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; stdin?: string } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, {
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    // 'close', not 'exit': all output has been read by then.
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.stdin ?? '');
  });
}

/** Runs a bin script (e.g. GATEWAY_BIN, WITNESS_BIN) with this Node. */
export function runNode(
  script: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; stdin?: string } = {},
): Promise<CommandResult> {
  return runCommand(process.execPath, [script, ...args], options);
}

/**
 * `witness login` with the CLI binary, the password on stdin and the gateway's CA pinned by
 * fingerprint: how every process-level CLI test signs a person in. `env` names their
 * WITNESS_HOME (and credential store); the result is returned for the test to judge.
 */
export function loginWithCli(
  gateway: Pick<ReadyLine, 'api' | 'caFingerprint'>,
  username: string,
  password: string,
  env: NodeJS.ProcessEnv,
): Promise<CommandResult> {
  const args = ['login', gateway.api, '-u', username, '--password-stdin'];
  return runNode(WITNESS_BIN, [...args, '--fingerprint', gateway.caFingerprint], {
    env,
    stdin: `${password}\n`,
  });
}

/** Bootstraps an admin in a gateway data dir with `admin create-user --password-stdin`. */
export async function createAdmin(
  dataDir: string,
  username: string,
  password: string,
): Promise<void> {
  const created = await runNode(
    GATEWAY_BIN,
    [
      'admin',
      'create-user',
      '--data',
      dataDir,
      '--username',
      username,
      '--role',
      'admin',
      '--password-stdin',
    ],
    { stdin: `${password}\n` },
  );
  if (created.code !== 0)
    throw new Error(`admin create-user ${username} failed: ${created.stderr}`);
}

/** A GatewayClient signed in to a running gateway, trusting the CA in its data dir. */
export async function signedInClient(
  apiUrl: string,
  dataDir: string,
  credentials: { username: string; password: string },
): Promise<GatewayClient> {
  let tokens: SessionTokens | null = null;
  const client = new GatewayClient(
    { baseUrl: apiUrl, caPem: readFileSync(path.join(dataDir, 'tls', 'ca.crt'), 'utf8') },
    {
      tokens: () => tokens,
      tokensRefreshed: (pair) => {
        tokens = pair;
      },
    },
  );
  tokens = await client.login(credentials);
  return client;
}

/** Splits a ready line's `HOST:PORT` (the host may be an IPv6 address). */
export function splitHostPort(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  return { host: address.slice(0, colon), port: Number(address.slice(colon + 1)) };
}
