import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';

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
  const child = spawn(process.execPath, [...nodeArgs, GATEWAY_BIN, 'serve', ...args], {
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

/** Runs a bin script to completion with optional stdin. */
export function runNode(
  script: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; stdin?: string } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], {
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
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.stdin ?? '');
  });
}
