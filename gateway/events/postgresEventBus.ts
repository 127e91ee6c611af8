/**
 * The event bus of replicas sharing one PostgreSQL database (issue #17), on PostgreSQL's own
 * LISTEN/NOTIFY — nothing home-made on the wire.
 *
 * Publish: one transaction, in one round trip, takes an advisory lock, inserts the event into
 * `gateway_events` (bigserial id) and NOTIFYs it. The lock serializes publishers, so ids commit in increasing
 * order; NOTIFY is delivered at commit, in commit order. A subscriber that has seen id N has
 * therefore seen every committed event below N (ids skipped by a rolled-back publish are just
 * gaps).
 *
 * Listen: a dedicated connection (a pooled one would be handed to other queries and lose its
 * LISTEN). When it drops — the server restarted, a failover, `pg_terminate_backend` — the bus
 * reconnects, LISTENs again and then reads every row with an id above the last one delivered:
 * the catch-up that makes a dropped connection lose nothing. Notifications that arrive while
 * the catch-up runs queue behind it and are skipped when their id was already delivered.
 *
 * Rows older than `retainMs` are pruned (every `pruneIntervalMs`); a replica cut off for longer
 * than that has bigger problems, and its sessions are re-read by the live sessions' safety poll.
 */
import pg from 'pg';
import { type Logger, silentLogger } from '../logger.ts';
import { deliverToAll, type EventBus, type EventListener } from './eventBus.ts';
import { type DeliveredEvent, type GatewayEvent, parseGatewayEvent } from './gatewayEvents.ts';

const CHANNEL = 'witness_events';
/** pg_advisory_xact_lock key of publishers: "witness events" as an arbitrary 64-bit number. */
const PUBLISH_LOCK_KEY = '7310591745036051059';
/** NOTIFY payloads must be under 8000 bytes; a larger event is fetched from its row instead. */
const MAX_NOTIFY_PAYLOAD_BYTES = 7900;
const DEFAULT_RETAIN_MS = 60 * 60 * 1000;
const DEFAULT_PRUNE_INTERVAL_MS = 5 * 60 * 1000;
const RECONNECT_MIN_MS = 50;
const RECONNECT_MAX_MS = 2000;

export interface PostgresEventBusOptions {
  log?: Logger;
  retainMs?: number;
  pruneIntervalMs?: number;
  now?: () => number;
}

interface EventRow {
  id: string | number;
  payload: string;
}

export class PostgresEventBus implements EventBus {
  private readonly listeners = new Set<EventListener>();
  private readonly pool: pg.Pool;
  private readonly log: Logger;
  private readonly now: () => number;
  private listenClient: pg.Client | undefined;
  /** Highest id delivered; the catch-up reads everything above it. */
  private lastId = 0;
  /** Deliveries and catch-ups, one after the other, in order. */
  private queue: Promise<void> = Promise.resolve();
  private closed = false;
  private reconnectDelay = RECONNECT_MIN_MS;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly pruneTimer: NodeJS.Timeout;
  private readonly retainMs: number;
  /** How many times the listening connection was re-established (tests, logs). */
  reconnects = 0;

  private constructor(
    private readonly connectionString: string,
    options: PostgresEventBusOptions,
  ) {
    this.log = options.log ?? silentLogger;
    this.now = options.now ?? Date.now;
    this.retainMs = options.retainMs ?? DEFAULT_RETAIN_MS;
    // Idle connections are kept (idleTimeoutMillis 0): a publish after a quiet spell should not
    // pay a new connection's authentication, which is most of an admin's terminate latency.
    this.pool = new pg.Pool({
      connectionString,
      max: 2,
      idleTimeoutMillis: 0,
      application_name: 'witness-events',
    });
    this.pool.on('error', () => {}); // an idle client dropped; the next query reconnects
    this.pruneTimer = setInterval(
      () => void this.prune(),
      options.pruneIntervalMs ?? DEFAULT_PRUNE_INTERVAL_MS,
    );
    this.pruneTimer.unref();
  }

  /** Opens the bus; events published from now on are delivered. The schema must exist (0010). */
  static async open(
    connectionString: string,
    options: PostgresEventBusOptions = {},
  ): Promise<PostgresEventBus> {
    const bus = new PostgresEventBus(connectionString, options);
    try {
      await bus.listen({ catchUp: false });
      const { rows } = await bus.pool.query<{ max: string | null }>(
        'select max(id)::text as max from gateway_events',
      );
      // LISTEN was first: what commits after this read is notified; what came before is history.
      bus.lastId = Math.max(bus.lastId, Number(rows[0]?.max ?? 0));
    } catch (error) {
      await bus.close();
      throw error;
    }
    return bus;
  }

  async publish(event: GatewayEvent): Promise<void> {
    if (this.closed) throw new Error('the event bus is closed');
    const payload = JSON.stringify(event);
    const client = await this.pool.connect();
    try {
      // One round trip: several statements in one simple query run as one implicit transaction
      // (PostgreSQL protocol, "Multiple Statements in a Simple Query"), so the advisory lock is
      // held until the commit that also delivers the NOTIFY. A simple query takes no
      // parameters, hence the literals escaped by the driver. Four round trips instead made a
      // terminate measurably slower on a loaded machine.
      await client.query(
        [
          `select pg_advisory_xact_lock(${PUBLISH_LOCK_KEY}::bigint);`,
          'with ins as (insert into gateway_events (kind, payload, created_at) values (',
          `${client.escapeLiteral(event.kind)}, ${client.escapeLiteral(payload)}, ${Math.trunc(this.now())}`,
          ') returning id, payload), msg as (',
          "select id, json_build_object('id', id::text, 'payload', payload)::text as m from ins)",
          `select pg_notify('${CHANNEL}', case when octet_length(m) <= ${MAX_NOTIFY_PAYLOAD_BYTES}`,
          "then m else json_build_object('id', id::text)::text end) from msg;",
        ].join(' '),
      );
    } finally {
      client.release();
    }
  }

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.pruneTimer);
    clearTimeout(this.reconnectTimer);
    this.listeners.clear();
    const client = this.listenClient;
    this.listenClient = undefined;
    await client?.end().catch(() => {});
    await this.queue;
    await this.pool.end().catch(() => {});
  }

  /** The backend pid of the listening connection (tests kill it with pg_terminate_backend). */
  get listenerPid(): number | undefined {
    return (this.listenClient as unknown as { processID?: number } | undefined)?.processID;
  }

  private async listen(options: { catchUp: boolean }): Promise<void> {
    const client = new pg.Client({
      connectionString: this.connectionString,
      application_name: 'witness-events-listen',
    });
    let lost = false;
    const onLost = (error?: Error) => {
      if (lost) return;
      lost = true;
      if (this.listenClient === client) this.listenClient = undefined;
      client.end().catch(() => {});
      if (this.closed) return;
      this.log.warn('the event bus lost its listening connection; reconnecting', {
        error: error ? String(error) : 'connection ended',
      });
      this.scheduleReconnect();
    };
    client.on('error', onLost);
    client.on('end', () => onLost());
    // Notifications can arrive before `listen` resolves (in the same read as its reply); they
    // wait here so that, after a reconnect, the catch-up is queued ahead of them — otherwise a
    // newer event would be delivered first and the catch-up would skip the ones it missed.
    let early: string[] | undefined = [];
    client.on('notification', (message) => {
      if (message.channel !== CHANNEL || !message.payload) return;
      if (early) early.push(message.payload);
      else this.onNotification(message.payload);
    });
    await client.connect();
    await client.query(`listen ${CHANNEL}`);
    this.listenClient = client;
    if (options.catchUp) this.enqueue(() => this.catchUp());
    const waiting = early;
    early = undefined;
    for (const payload of waiting) this.onNotification(payload);
  }

  private scheduleReconnect(): void {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.closed) return;
      this.listen({ catchUp: true })
        .then(() => {
          this.reconnects += 1;
          this.reconnectDelay = RECONNECT_MIN_MS;
        })
        .catch((error: unknown) => {
          this.log.warn('the event bus could not reconnect; retrying', { error: String(error) });
          this.reconnectDelay = Math.min(this.reconnectDelay * 2, RECONNECT_MAX_MS);
          this.scheduleReconnect();
        });
    }, this.reconnectDelay);
    this.reconnectTimer.unref();
  }

  private onNotification(text: string): void {
    let message: { id?: unknown; payload?: unknown };
    try {
      message = JSON.parse(text) as typeof message;
    } catch {
      return; // not ours
    }
    const id = Number(message.id);
    if (!Number.isSafeInteger(id)) return;
    if (typeof message.payload === 'string') {
      const payload = message.payload;
      this.enqueue(async () => this.deliver({ id: String(id), payload }));
    } else {
      // Too large to notify: read it (and anything before it not yet seen) from the table.
      this.enqueue(() => this.catchUp());
    }
  }

  /** Delivers every stored event above the last one delivered, in id order. */
  private async catchUp(): Promise<void> {
    for (;;) {
      const { rows } = await this.pool.query<EventRow>(
        // Order by the bigint column: `id` alone would name the text alias and sort '10' < '2'.
        'select id::text as id, payload from gateway_events where gateway_events.id > $1 order by gateway_events.id limit 500',
        [this.lastId],
      );
      for (const row of rows) this.deliver(row);
      if (rows.length < 500) return;
    }
  }

  private deliver(row: EventRow): void {
    const id = Number(row.id);
    if (id <= this.lastId) return; // already delivered (by the catch-up or a notification)
    this.lastId = id;
    let event: GatewayEvent | undefined;
    try {
      event = parseGatewayEvent(JSON.parse(row.payload));
    } catch {
      event = undefined;
    }
    if (!event) {
      this.log.warn('an event this gateway does not know was skipped', { id });
      return;
    }
    const delivered: DeliveredEvent = { id, event };
    deliverToAll(this.listeners, delivered, (error) =>
      this.log.error('an event handler failed', { event: event.kind, error: String(error) }),
    );
  }

  private enqueue(task: () => Promise<void>): void {
    this.queue = this.queue.then(task).catch((error: unknown) => {
      if (this.closed) return;
      // A failed catch-up would leave a hole: drop the connection so the reconnect reads again.
      this.log.warn('the event bus could not read missed events; reconnecting', {
        error: String(error),
      });
      const client = this.listenClient;
      this.listenClient = undefined;
      client?.end().catch(() => {});
      this.scheduleReconnect();
    });
  }

  private async prune(): Promise<void> {
    try {
      await this.pool.query('delete from gateway_events where created_at < $1', [
        this.now() - this.retainMs,
      ]);
    } catch (error) {
      this.log.warn('could not prune old events', { error: String(error) });
    }
  }

  /** Prunes now (tests). */
  pruneNow(): Promise<void> {
    return this.prune();
  }
}
