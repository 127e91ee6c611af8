/**
 * Which processes a test's child started, read from /proc (Linux), and whether they still run:
 * for the signal tests, which check that `kill` of `witness ssh` leaves no orphaned client. The
 * children are looked up while the parent runs — once it has exited they belong to init.
 */
import { readdirSync, readFileSync } from 'node:fs';

interface ProcStat {
  pid: number;
  ppid: number;
  state: string;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // `pid (comm) state ppid …`; comm may hold spaces and parentheses, so split after the last ')'.
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { pid, ppid: Number(ppid), state: state ?? '?' };
  } catch {
    return undefined;
  }
}

function allProcesses(): ProcStat[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map((name) => readStat(Number(name)))
    .filter((stat) => stat !== undefined);
}

/** Every process below `pid` (children, their children, …). */
export function descendantsOf(pid: number): number[] {
  const processes = allProcesses();
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    for (const p of processes) {
      if (p.ppid === parent) {
        found.push(p.pid);
        queue.push(p.pid);
      }
    }
  }
  return found;
}

/** Whether `pid` is a process that has not exited (a zombie has exited). */
export function isRunning(pid: number): boolean {
  const stat = readStat(pid);
  return stat !== undefined && stat.state !== 'Z' && stat.state !== 'X';
}

/** Processes whose command line is exactly `argv` (a unique marker argument finds a test's own). */
export function processesRunning(argv: string[]): number[] {
  const wanted = `${argv.join('\0')}\0`;
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8') === wanted && isRunning(Number(name))) {
        found.push(Number(name));
      }
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

/**
 * Sends `signal` to `child` and waits for it to exit, then until one second after the signal:
 * what the signal tests check (no client left, no temporary file, the session ended) is given
 * that second to happen. Resolves with what `exited` resolved with (the exit code).
 */
export async function killAndWaitASecond<T>(
  child: { kill(signal: NodeJS.Signals): unknown },
  signal: NodeJS.Signals,
  exited: Promise<T>,
): Promise<T> {
  child.kill(signal);
  const killedAt = Date.now();
  const result = await exited;
  await new Promise((resolve) => setTimeout(resolve, 1_000 - (Date.now() - killedAt)));
  return result;
}
