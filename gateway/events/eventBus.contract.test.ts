/**
 * The event bus's contract on both implementations (issue #17): every subscriber gets every
 * event once, in publish order, including the publishing replica; on PostgreSQL, a second bus
 * on the same database (another replica) hears it too, and killing the listening connection
 * with pg_terminate_backend loses nothing published meanwhile.
 */
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import {
  describeWithPostgres,
  freshPostgresDatabase,
} from '../../test/harness/postgresForTests.ts';
import { waitFor } from '../../test/harness/waitFor.ts';
import { openPostgresStore } from '../store/openStore.ts';
import type { EventBus } from './eventBus.ts';
import type { DeliveredEvent, GatewayEvent } from './gatewayEvents.ts';
import { InProcessEventBus } from './inProcessEventBus.ts';
import { PostgresEventBus } from './postgresEventBus.ts';

const changed = (n: number): GatewayEvent => ({ kind: 'session.changed', sessionId: `ses_${n}` });

function collect(bus: EventBus): DeliveredEvent[] {
  const seen: DeliveredEvent[] = [];
  bus.subscribe((delivered) => seen.push(delivered));
  return seen;
}

const sessionIds = (seen: DeliveredEvent[]) =>
  seen.map((d) => (d.event.kind === 'session.changed' ? d.event.sessionId : d.event.kind));

const toClose: EventBus[] = [];
afterEach(async () => {
  for (const bus of toClose.splice(0)) await bus.close();
});

describe('InProcessEventBus', () => {
  it('delivers each event once, in order, after publish returns', async () => {
    const bus = new InProcessEventBus();
    toClose.push(bus);
    const seen = collect(bus);
    const unsubscribed: DeliveredEvent[] = [];
    const stop = bus.subscribe((d) => unsubscribed.push(d));
    await bus.publish(changed(1));
    stop();
    await bus.publish(changed(2));
    await bus.publish({ kind: 'user.accessChanged', userId: 'usr_1', reason: 'disabled' });
    await waitFor(() => seen.length === 3, 'the events');
    expect(sessionIds(seen)).toEqual(['ses_1', 'ses_2', 'user.accessChanged']);
    expect(seen.map((d) => d.id)).toEqual([1, 2, 3]);
    expect(sessionIds(unsubscribed)).toEqual(['ses_1']);
  });

  it('a listener that throws does not keep the event from the others', async () => {
    const bus = new InProcessEventBus();
    toClose.push(bus);
    bus.subscribe(() => {
      throw new Error('handler bug');
    });
    const seen = collect(bus);
    await bus.publish(changed(1));
    await waitFor(() => seen.length === 1, 'the events');
    expect(sessionIds(seen)).toEqual(['ses_1']);
  });
});

describeWithPostgres('PostgresEventBus', () => {
  async function database(): Promise<string> {
    const url = await freshPostgresDatabase();
    await (await openPostgresStore(url)).close(); // migrates: gateway_events exists
    return url;
  }

  async function open(url: string): Promise<PostgresEventBus> {
    const bus = await PostgresEventBus.open(url);
    toClose.push(bus);
    return bus;
  }

  it('every replica hears every event, in publish order, the publisher too', async () => {
    const url = await database();
    const a = await open(url);
    const b = await open(url);
    const seenA = collect(a);
    const seenB = collect(b);
    // Publishers on both replicas at once: the advisory lock orders them.
    await Promise.all([
      ...[1, 2, 3, 4, 5].map((n) => a.publish(changed(n))),
      ...[6, 7, 8, 9, 10].map((n) => b.publish(changed(n))),
    ]);
    await waitFor(() => seenA.length === 10 && seenB.length === 10, 'the events');
    expect(seenB.map((d) => d.id)).toEqual(seenA.map((d) => d.id));
    expect(sessionIds(seenB)).toEqual(sessionIds(seenA));
    const ids = seenA.map((d) => d.id);
    expect(ids).toEqual([...ids].sort((x, y) => x - y));
    expect(new Set(sessionIds(seenA)).size).toBe(10);
  });

  it('an event too large to NOTIFY is read from its row', async () => {
    const url = await database();
    const a = await open(url);
    const b = await open(url);
    const seenB = collect(b);
    const reason = 'x'.repeat(9000);
    await a.publish({ kind: 'user.accessChanged', userId: 'usr_1', reason });
    await a.publish(changed(1));
    await waitFor(() => seenB.length === 2, 'the events');
    expect(seenB[0]?.event).toEqual({ kind: 'user.accessChanged', userId: 'usr_1', reason });
    expect(sessionIds(seenB)[1]).toBe('ses_1');
  });

  it('loses nothing when its listening connection is killed (pg_terminate_backend)', async () => {
    const url = await database();
    const publisher = await open(url);
    const listener = await open(url);
    const seen = collect(listener);
    await publisher.publish(changed(0));
    await waitFor(() => seen.length === 1, 'the events');
    const pid = listener.listenerPid;
    expect(pid).toBeTypeOf('number');
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      // Kill the listener and publish right away, while it is disconnected and reconnecting.
      const killed = await admin.query('select pg_terminate_backend($1) as ok', [pid]);
      expect(killed.rows[0]?.ok).toBe(true);
      for (let n = 1; n <= 20; n += 1) await publisher.publish(changed(n));
    } finally {
      await admin.end();
    }
    await waitFor(
      () => seen.length === 21,
      'the events published while disconnected',
      10_000,
    ).catch((e) => {
      throw new Error(
        `${e} seen=${JSON.stringify(sessionIds(seen))} reconnects=${listener.reconnects}`,
      );
    });
    expect(listener.reconnects).toBeGreaterThanOrEqual(1);
    expect(listener.listenerPid).not.toBe(pid);
    expect(sessionIds(seen)).toEqual(Array.from({ length: 21 }, (_, n) => `ses_${n}`));
    // And it listens again: a later event arrives by NOTIFY.
    await publisher.publish(changed(21));
    await waitFor(() => seen.length === 22, 'the events');
  });

  it('prunes rows older than its retention', async () => {
    const url = await database();
    let now = 1_000_000;
    const bus = await PostgresEventBus.open(url, { retainMs: 1000, now: () => now });
    toClose.push(bus);
    await bus.publish(changed(1));
    now += 5000;
    await bus.publish(changed(2));
    await bus.pruneNow();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query<{ payload: string }>(
        'select payload from gateway_events',
      );
      expect(rows.map((r) => (JSON.parse(r.payload) as { sessionId: string }).sessionId)).toEqual([
        'ses_2',
      ]);
    } finally {
      await client.end();
    }
  });
});
