import { describe, expect, it } from 'vitest';
import { runCountingOutput } from './countedOutput.ts';

describe('runCountingOutput', () => {
  it('counts every byte of 100 concurrent children that exit right after printing', async () => {
    const size = 2_000_000;
    // Twenty writes and an exit, as `ssh` does at the end of a session: with this many
    // children the process is often reaped before its last ~160 KB were read.
    const script = 'i=0; while [ $i -lt 20 ]; do head -c 100000 /dev/zero; i=$((i+1)); done';
    const results = await Promise.all(
      Array.from({ length: 100 }, () => runCountingOutput('sh', ['-c', script])),
    );
    const short = results.filter((result) => result.bytes !== size);
    expect(short).toEqual([]);
    expect(results.every((result) => result.code === 0)).toBe(true);
  }, 60_000);
});
