/**
 * The local gateway as a child process: `node bin/witness-gateway.mjs serve … --exit-with-parent`
 * with a pipe on stdin, so if the desktop dies without stopping it (crash, SIGKILL) the pipe
 * closes and the gateway exits instead of lingering. Ready when it prints its JSON ready line
 * on stdout (README "Gateway configuration"); its stderr is kept (a bounded tail) to explain a
 * failure.
 */
import { type ChildProcess, spawn } from 'node:child_process';

export interface GatewayReadyLine {
  ready: true;
  api: string;
  caFingerprint: string;
  store: 'sqlite' | 'postgres';
  ssh?: string;
  postgres?: string;
}

export interface RunningGatewayChild {
  ready: GatewayReadyLine;
  pid: number | undefined;
  /** The last lines the gateway wrote to stderr. */
  stderrTail(): string;
  /** Resolves with the exit code (null after a signal) when the process ends. */
  readonly exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

const STDERR_TAIL_CHARS = 8 * 1024;

export class GatewayStartError extends Error {}

export async function spawnGatewayChild(options: {
  gatewayBin: string;
  args: string[];
  /** Time to wait for the ready line (default 60 s: the first start generates keys). */
  readyTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  onStderr?: (text: string) => void;
}): Promise<RunningGatewayChild> {
  const child: ChildProcess = spawn(
    process.execPath,
    [options.gatewayBin, 'serve', ...options.args, '--exit-with-parent'],
    {
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (text: string) => {
    stderr = (stderr + text).slice(-STDERR_TAIL_CHARS);
    options.onStderr?.(text);
  });
  // The pipe's far end: nothing is written to it; an EPIPE at exit must not throw here.
  child.stdin?.on('error', () => {});
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', () => resolve(null));
  });
  const stderrTail = () => stderr.trim().split('\n').slice(-12).join('\n');

  const stop = async (graceMs = 5_000) => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }, graceMs);
      await exited;
      clearTimeout(timer);
    }
  };

  const ready = await new Promise<GatewayReadyLine>((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => {
      void stop(1_000);
      reject(
        new GatewayStartError(
          `The local gateway did not become ready within ${Math.round((options.readyTimeoutMs ?? 60_000) / 1000)} s.` +
            (stderrTail() ? ` Its last output:\n${stderrTail()}` : ''),
        ),
      );
    }, options.readyTimeoutMs ?? 60_000);
    child.stdout?.setEncoding('utf8');
    const onStdout = (text: string) => {
      stdout += text;
      const line = stdout.split('\n').find((l) => l.startsWith('{') && l.includes('"ready"'));
      if (!line) return;
      clearTimeout(timer);
      child.stdout?.off('data', onStdout);
      // Keep draining stdout so a chatty gateway never blocks on a full pipe.
      child.stdout?.resume();
      try {
        resolve(JSON.parse(line) as GatewayReadyLine);
      } catch {
        reject(
          new GatewayStartError(`The local gateway printed an unreadable ready line: ${line}`),
        );
      }
    };
    child.stdout?.on('data', onStdout);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new GatewayStartError(`The local gateway could not be started: ${error.message}`));
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(
        new GatewayStartError(
          `The local gateway exited (code ${code}) before it was ready.` +
            (stderrTail() ? ` Its last output:\n${stderrTail()}` : ''),
        ),
      );
    });
  });

  return { ready, pid: child.pid, stderrTail, exited, stop };
}
