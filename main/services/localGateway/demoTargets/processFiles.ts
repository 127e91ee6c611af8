/**
 * Demo target processes outlive a desktop that crashed (sshd in the foreground is only our
 * child; PostgreSQL daemonizes). Their pids are written to the demo dir, and the next start
 * stops a leftover one — only after checking, on Linux, that the pid still runs a command line
 * naming our own config file, so a recycled pid is never signalled.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export function findOnPath(binary: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && existsSync(path.join(dir, binary))) return path.join(dir, binary);
  }
  return undefined;
}

export function rememberPid(pidFile: string, pid: number | undefined): void {
  if (pid !== undefined) writeFileSync(pidFile, `${pid}\n`, { mode: 0o600 });
}

/** Stops the process recorded in `pidFile` if its command line contains `marker`. */
export async function killStaleProcess(pidFile: string, marker: string): Promise<void> {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(pidFile, 'utf8').trim(), 10);
  } catch {
    return;
  }
  rmSync(pidFile, { force: true });
  if (!Number.isInteger(pid) || pid <= 1 || !commandLineOf(pid)?.includes(marker)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + 3_000;
  while (Date.now() < deadline && isRunning(pid)) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  if (isRunning(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone in between.
    }
  }
}

function commandLineOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return undefined;
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return commandLineOf(pid) !== undefined;
  } catch {
    return false;
  }
}
