/**
 * `npm run bench:replicas` (issue #17): the two-replica cluster of the integration tests
 * (test/harness/replicaCluster.ts: two `witness-gateway serve` processes with one identity on
 * one PostgreSQL 15, HAProxy in front in TCP mode), a real sshd behind them, and N concurrent
 * recorded SSH sessions, each opened through the balancer's API and SSH port so HAProxy spreads
 * them over the two replicas. Which replica carries a session is read from its recording's owner.
 *
 * 1. Each session runs `yes <its tag> | head -c BYTES` and then stays open; the client hashes
 *    what it received. With all of them live, each replica's memory per session is its RSS
 *    growth over its RSS before the sessions, divided by the sessions it carries.
 * 2. Every session is terminated through the OTHER replica's API; kill latency is the API call
 *    to the client's channel closing (p99 printed).
 * 3. Every recording is read back from the database and verified with its replica's key; its
 *    output must be exactly what the client received. A session whose recording lacks a byte,
 *    or does not verify, or did not end, is a lost event.
 * 4. Then KILL_SESSIONS sessions per replica stream output, replica A is SIGKILLed, and B must
 *    mark A's recordings interrupted; each must verify to its last checkpoint and hold every
 *    byte its client received before the kill, while B's sessions run on undisturbed.
 *    Sessions are opened through the balancer until each replica carries KILL_SESSIONS.
 *
 * RESULT sessions=<n> lost_events=<n> kill_latency_ms=<p99>
 * Env: WITNESS_BENCH_REPLICA_SESSIONS (50), WITNESS_BENCH_REPLICA_BYTES (1000000),
 * WITNESS_BENCH_DATABASE_URL (a superuser URL; default: a temporary PostgreSQL cluster).
 */
import { createHash, randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Client, type ClientChannel } from 'ssh2';
import { DatabaseChunkStorage } from '../gateway/recorder/recordingStorage.ts';
import { openPostgresStore } from '../gateway/store/openStore.ts';
import type { Store } from '../gateway/store/store.ts';
import type { GatewayClient } from '../gateway-client/gatewayClient.ts';
import { eventKinds } from '../shared/recording/recordingFormat.ts';
import { verifyRecording } from '../shared/recording/verifyRecording.ts';
import { createDatabase, startPostgresCluster } from '../test/harness/postgresCluster.ts';
import { processesRunning } from '../test/harness/processTree.ts';
import {
  type HostPort,
  type ReplicaCluster,
  startReplicaCluster,
} from '../test/harness/replicaCluster.ts';
import { startSshd } from '../test/harness/sshd.ts';
import { addSshTarget } from '../test/harness/sshTarget.ts';

const SESSIONS = Number(process.env.WITNESS_BENCH_REPLICA_SESSIONS ?? 50);
const BYTES = Number(process.env.WITNESS_BENCH_REPLICA_BYTES ?? 1_000_000);
const KILL_SESSIONS = 5;
const CONNECT_PARALLEL = 10;
const ADMIN = { username: 'bench', password: 'bench-password-1' };

const log = (line: string) => console.log(line);

interface Replica {
  name: 'a' | 'b';
  /** The readyz instance id, which recordings name as their owner. */
  instance: string;
  /** An admin signed in on this replica's own API (terminates "through the other replica"). */
  api: GatewayClient;
  pid(): number | undefined;
}

interface Live {
  sessionId: string;
  replica: Replica;
  client: Client;
  channel: ClientChannel;
  received: number;
  hash: ReturnType<typeof createHash>;
  /** Everything received, kept only for the kill phase's prefix check. */
  chunks: Buffer[] | undefined;
  closedAt: Promise<number>;
}

function rssBytes(pid: number | undefined): number {
  if (pid === undefined) throw new Error('the replica is not running');
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+)/.exec(status)?.[1];
  return Number(kb) * 1024;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

/** Connections the balancer closed before the SSH handshake and the bench tried again. */
let connectRetries = 0;

/**
 * An SSH login with the session's ticket. A connection closed before the handshake never
 * reached a replica's login (the ticket is unspent): the balancer had no replica it judged up at
 * that instant, which a loaded machine causes when a readyz check is slow. It is tried again,
 * up to 3 times, and counted; anything later in the handshake fails the bench.
 */
async function connectWithRetry(
  at: HostPort,
  session: { sessionId: string; ticket: string },
): Promise<Client> {
  for (let attempt = 1; ; attempt++) {
    const client = new Client();
    try {
      await new Promise<void>((resolve, reject) => {
        // `on`, not `once`: ssh2 can emit a second error, which must not go unhandled.
        client.on('error', reject).once('ready', () => resolve());
        client.connect({
          ...at,
          username: session.sessionId,
          password: session.ticket,
          readyTimeout: 60_000,
        });
      });
    } catch (error) {
      const beforeHandshake = error instanceof Error && /before handshake/.test(error.message);
      if (!beforeHandshake || attempt >= 3) throw error;
      connectRetries += 1;
      await new Promise((resolve) => setTimeout(resolve, 200));
      continue;
    }
    client.removeAllListeners('error');
    client.on('error', () => {}); // a killed replica resets the connection: expected in phase 4
    return client;
  }
}

/** A session opened through the balancer (API and SSH); `carrier` finds which replica took it. */
async function open(
  api: GatewayClient,
  carrier: (sessionId: string) => Promise<Replica>,
  resourceId: string,
  command: string,
  keep: boolean,
): Promise<Live> {
  const session = await api.createSession(resourceId);
  const client = await connectWithRetry(session.endpoint as HostPort, session);
  const channel = await new Promise<ClientChannel>((resolve, reject) =>
    client.exec(command, (error, stream) => (error ? reject(error) : resolve(stream))),
  );
  const live: Live = {
    sessionId: session.sessionId,
    replica: await carrier(session.sessionId),
    client,
    channel,
    received: 0,
    hash: createHash('sha256'),
    chunks: keep ? [] : undefined,
    closedAt: new Promise((resolve) => channel.once('close', () => resolve(Date.now()))),
  };
  channel.on('data', (chunk: Buffer) => {
    live.received += chunk.length;
    live.hash.update(chunk);
    live.chunks?.push(chunk);
  });
  channel.stderr.resume();
  return live;
}

async function inBatches<T, R>(
  items: T[],
  size: number,
  run: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = [];
  for (let at = 0; at < items.length; at += size) {
    results.push(...(await Promise.all(items.slice(at, at + size).map(run))));
  }
  return results;
}

async function waitUntil(check: () => boolean | Promise<boolean>, what: string, ms: number) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The recording's output bytes and verdict. */
async function recordedOutput(store: Store, live: Live, publicKeyPem: string) {
  const storage = new DatabaseChunkStorage(store);
  const output: Buffer[] = [];
  const report = await verifyRecording(storage.open(live.sessionId), {
    publicKeyPem,
    expectedSessionId: live.sessionId,
    onEvent: (event) => {
      if (event.kind === eventKinds.output) output.push(Buffer.from(event.data));
    },
  });
  return { report, output: Buffer.concat(output) };
}

async function main(): Promise<void> {
  const postgres = process.env.WITNESS_BENCH_DATABASE_URL
    ? undefined
    : await startPostgresCluster();
  const adminUrl = process.env.WITNESS_BENCH_DATABASE_URL ?? (postgres?.url as string);
  const databaseUrl = await createDatabase(adminUrl, `bench_replicas_${process.pid}`);
  const sshd = await startSshd({ loginAs: 'postgres' });
  const replicas: Replica[] = [];
  const all: Live[] = [];
  const durations: string[] = [];
  let store: Store | undefined;
  let cluster: ReplicaCluster | undefined;
  let api: GatewayClient | undefined;
  try {
    cluster = await startReplicaCluster({ databaseUrl });
    const running = cluster;
    const created = await cluster.admin(
      ['admin', 'create-user', '--username', ADMIN.username, '--role', 'admin', '--password-stdin'],
      `${ADMIN.password}\n`,
    );
    if (created.code !== 0) throw new Error(`create-user failed: ${created.stderr}`);
    // Everything the bench does as a client goes through the balancer; only the terminates of
    // phase 2 pick a replica, to cross from the carrier to the other one.
    api = await cluster.signIn(cluster.balancer.api, ADMIN);
    for (const [index, name] of [[0, 'a'] as const, [1, 'b'] as const]) {
      const replica = cluster.replica(index);
      replicas.push({
        name,
        instance: (await cluster.readyInstance(replica.api)).instance as string,
        api: await cluster.signIn(replica.api, ADMIN),
        pid: () => running.replica(index).process?.child.pid,
      });
    }
    const [a, b] = replicas as [Replica, Replica];
    const publicKeyPem = (await api.keys()).recordingKey.publicKeyPem;
    const resourceId = await addSshTarget(api, sshd, {
      name: 'bench-target',
      grantTo: { userId: (await api.me()).id, maxSessionSeconds: 3600 },
    });
    store = await openPostgresStore(databaseUrl, { poolSize: 4 });
    const rows = store;
    const carrier = async (sessionId: string): Promise<Replica> => {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const owner = (await rows.getRecording(sessionId))?.owner;
        const replica = replicas.find((r) => r.instance === owner);
        if (replica) return replica;
        if (Date.now() > deadline) throw new Error(`no replica owns ${sessionId}'s recording`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    const balanced = api;
    const rssBefore = replicas.map((r) => rssBytes(r.pid()));

    // 1. N sessions, each BYTES of its own text, then open and idle.
    const started = Date.now();
    const sessions = await inBatches(
      Array.from({ length: SESSIONS }, (_, n) => n),
      CONNECT_PARALLEL,
      (n) => {
        const duration = `600.${randomInt(100_000, 999_999)}`;
        durations.push(duration);
        const command = `yes session-${n}-of-${SESSIONS} | head -c ${BYTES}; exec sleep ${duration}`;
        return open(balanced, carrier, resourceId, command, false);
      },
    );
    all.push(...sessions);
    await waitUntil(
      () => sessions.every((s) => s.received >= BYTES),
      'every session’s bytes',
      300_000,
    );
    const moved = (Date.now() - started) / 1000;
    log(`${SESSIONS} sessions moved ${BYTES} bytes each in ${moved.toFixed(1)} s`);
    for (const [i, replica] of replicas.entries()) {
      const carried = sessions.filter((s) => s.replica === replica).length;
      const grown = rssBytes(replica.pid()) - (rssBefore[i] as number);
      log(
        `DETAIL memory replica=${replica.name} sessions=${carried} rss_growth_mib=${(grown / 2 ** 20).toFixed(1)} per_session_kib=${(grown / carried / 1024).toFixed(0)}`,
      );
    }

    // 2. Terminate each through the other replica's API.
    const latencies = await inBatches(sessions, CONNECT_PARALLEL, async (live) => {
      const other = live.replica === a ? b : a;
      const since = Date.now();
      await other.api.terminateSession(live.sessionId, 'bench');
      return (await live.closedAt) - since;
    });
    const p99 = percentile(latencies, 99);
    log(
      `kill latency (terminate through the other replica → channel closed): p50 ${percentile(latencies, 50)} ms, p99 ${p99} ms, max ${Math.max(...latencies)} ms`,
    );
    for (const live of sessions) live.client.end();

    // 3. Every byte in the recordings.
    let lost = 0;
    await waitUntil(
      async () => {
        const rows = await Promise.all(sessions.map((s) => store!.getRecording(s.sessionId)));
        return rows.every((row) => row?.status === 'complete');
      },
      'every recording to complete',
      60_000,
    ).catch((error: unknown) => log(`WARN ${String(error)}`));
    for (const live of sessions) {
      const { report, output } = await recordedOutput(store, live, publicKeyPem);
      const same =
        output.length === live.received &&
        createHash('sha256').update(output).digest('hex') === live.hash.digest('hex');
      if (report.status !== 'verified' || !same || live.received !== BYTES) {
        lost += 1;
        log(
          `LOST ${live.sessionId}: ${report.status} ${report.message} recorded=${output.length} received=${live.received}`,
        );
      }
    }

    // 4. SIGKILL of A with sessions streaming on both: opened through the balancer until each
    // replica carries KILL_SESSIONS (round robin makes that about 2 × KILL_SESSIONS).
    const streaming: Live[] = [];
    const carrying = (replica: Replica) => streaming.filter((s) => s.replica === replica).length;
    for (let n = 0; carrying(a) < KILL_SESSIONS || carrying(b) < KILL_SESSIONS; n++) {
      if (n >= KILL_SESSIONS * 8) throw new Error('the balancer sent every session to one replica');
      const duration = `600.${randomInt(100_000, 999_999)}`;
      durations.push(duration);
      const command = `i=0; while [ $i -lt 100000 ]; do echo kill-${n}-line-$i; i=$((i+1)); sleep 0.02; done; exec sleep ${duration}`;
      const live = await open(balanced, carrier, resourceId, command, true);
      streaming.push(live);
      all.push(live);
    }
    await waitUntil(() => streaming.every((s) => s.received > 2000), 'streaming output', 60_000);
    const killedAt = Date.now();
    await cluster.replica(0).kill('SIGKILL');
    const onA = streaming.filter((s) => s.replica === a);
    const onB = streaming.filter((s) => s.replica === b);
    await waitUntil(
      async () => {
        const rows = await Promise.all(onA.map((s) => store!.getRecording(s.sessionId)));
        return rows.every((row) => row?.status === 'interrupted');
      },
      "B to mark A's recordings interrupted",
      60_000,
    );
    log(
      `B marked A's ${onA.length} recordings interrupted ${Date.now() - killedAt} ms after the SIGKILL`,
    );
    for (const live of onA) {
      const { report, output } = await recordedOutput(store, live, publicKeyPem);
      const seen = Buffer.concat(live.chunks ?? []);
      // Committed before forwarded: whatever the client got is in the database.
      const holds = output.length >= seen.length && output.subarray(0, seen.length).equals(seen);
      if (report.status !== 'partial' || report.firstBadSeq !== null || !holds) {
        lost += 1;
        log(
          `LOST ${live.sessionId} (killed): ${report.status} ${report.message} recorded=${output.length} received=${seen.length}`,
        );
      }
    }
    const bBefore = onB.map((s) => s.received);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const undisturbed = onB.every((s, i) => s.received > (bBefore[i] as number));
    if (!undisturbed) {
      lost += 1;
      log("LOST: B's sessions stopped receiving after A was killed");
    }
    log(`B's ${onB.length} sessions still streaming after A's kill: ${undisturbed}`);
    await Promise.all(onB.map((live) => b.api.terminateSession(live.sessionId, 'bench done')));
    log(`DETAIL connect_retries=${connectRetries}`);
    console.log(`RESULT sessions=${SESSIONS} lost_events=${lost} kill_latency_ms=${p99}`);
  } catch (error) {
    // Which replica the balancer judged down, and when, is in its own log.
    if (cluster) log(`HAProxy's log:\n${cluster.balancerLog()}`);
    throw error;
  } finally {
    for (const live of all) live.client.end();
    for (const replica of replicas) replica.api.close();
    api?.close();
    await cluster?.stop();
    // Clean up every SSH session the bench left on the target.
    for (const duration of durations) {
      for (const pid of processesRunning(['sleep', duration])) process.kill(pid, 'SIGKILL');
    }
    await store?.close();
    await sshd.stop();
    await postgres?.stop();
  }
}

await main();
