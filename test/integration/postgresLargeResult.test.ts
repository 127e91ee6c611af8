/**
 * A 1,000,000-row result through the gateway (issue #4: "Large results stream: memory stays
 * bounded"): psql runs `SELECT generate_series(1, 1000000)` without a cursor, the gateway
 * records every DataRow before forwarding it, and its memory (this process: the gateway runs
 * in-process, psql does not) must not grow with the result. The recording must verify and hold
 * every row, in order.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithPostgres } from '../harness/postgresForTests.ts';
import { type PostgresTestBed, startPostgresTestBed } from '../harness/postgresTestBed.ts';

const ROWS = 1_000_000;
const MAX_RSS_GROWTH_BYTES = 150 * 1024 * 1024;

describeWithPostgres('A 1,000,000-row result through the gateway', () => {
  let bed: PostgresTestBed;

  beforeAll(async () => {
    bed = await startPostgresTestBed();
  });
  afterAll(async () => {
    await bed?.close();
  });

  it('streams in bounded memory, and every row is recorded in order', {
    timeout: 120_000,
  }, async () => {
    const session = await bed.newSession();
    global.gc?.();
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 25);
    const started = Date.now();
    let result: Awaited<ReturnType<PostgresTestBed['psql']>>;
    try {
      result = await bed.psql(session, [
        '-A',
        '-t',
        '-c',
        `SELECT generate_series(1, ${ROWS})`,
        '-o',
        '/dev/null',
      ]);
    } finally {
      clearInterval(sampler);
    }
    const seconds = (Date.now() - started) / 1000;
    peak = Math.max(peak, process.memoryUsage().rss);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const growth = peak - baseline;
    console.info(
      `[postgres] ${ROWS} rows through the gateway in ${seconds.toFixed(1)} s ` +
        `(${Math.round(ROWS / seconds)} rows/s); gateway RSS grew ${(growth / 1048576).toFixed(1)} MiB`,
    );
    expect(growth).toBeLessThan(MAX_RSS_GROWTH_BYTES);

    let next = 1;
    let rows = 0;
    let outOfOrder = 0;
    const events = await bed.verifiedRecording(session.sessionId).then((all) => {
      for (const event of all) {
        if (event.kind !== 'D') continue;
        rows += 1;
        // Body: int16 count, int32 length, the digits.
        const data = Buffer.from(event.data);
        if (Number(data.toString('latin1', 6)) !== next) outOfOrder += 1;
        next += 1;
      }
      return all.filter((event) => event.kind !== 'D');
    });
    expect(rows).toBe(ROWS);
    expect(outOfOrder).toBe(0);
    expect(events.map((event) => event.kind)).toEqual(['m', 'q', 'd', 'c', 'm']);
  });
});
