/**
 * CPU meters read from /proc (Linux), shared by the benchmarks: on a machine with few cores a
 * path's throughput is about cores ÷ its CPU per unit of work, so the benches print CPU next to
 * their timings. Off Linux the meters return undefined, and the figures say NaN, not a guess.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Ticks per second of /proc's counters (USER_HZ). */
const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds (user + system) a process has used so far. */
export function processCpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    // Fields after the ")" that ends the command name: state is field 3, utime 14, stime 15.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds (user + system) of a process's children that have exited and been waited for,
 * their own reaped descendants included (cutime + cstime). For a forking server (sshd) that is
 * the CPU of every connection it has served and closed; for this process, of the commands it
 * ran. A child still running is not counted until it is reaped.
 */
export function reapedChildrenCpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    // cutime is field 16, cstime 17 (see processCpuSeconds for the offsets).
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/**
 * Busy CPU seconds of the whole machine so far (every process and the kernel): /proc/stat's
 * first line minus idle and iowait.
 */
export function machineBusySeconds(): number | undefined {
  try {
    const first = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const ticks = first.trim().split(/\s+/).slice(1).map(Number);
    const total = ticks.reduce((a, b) => a + b, 0);
    return (total - (ticks[3] ?? 0) - (ticks[4] ?? 0)) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}
