import { mkdtempSync, rmSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { hashPassword } from '../../gateway/auth/passwords.ts';
import { ManualClock } from '../../gateway/clock.ts';
import { type RunningGateway, startGateway } from '../../gateway/index.ts';
import type { Logger } from '../../gateway/logger.ts';
import { newId } from '../../gateway/newId.ts';
import type { Role } from '../../shared/api/apiSchemas.ts';

/**
 * The sealing key every PostgreSQL-backed test gateway (and the CLI run against its database)
 * uses (issue #17): a fixed test value, since each test has a fresh database anyway.
 */
export const TEST_SEALING_KEY_BASE64 = Buffer.alloc(32, 7).toString('base64');

export interface TestGateway {
  gateway: RunningGateway;
  clock: ManualClock;
  dataDir: string;
  /** Every log line the gateway wrote, for tests that grep logs. */
  logLines: string[];
  /** Every response body the test helpers received, for tests that grep responses. */
  responses: string[];
  request(method: string, urlPath: string, options?: RequestOptions): Promise<TestResponse>;
  createUser(username: string, role: Role, password: string, groups?: string[]): Promise<string>;
  login(username: string, password: string): Promise<string>;
  close(): Promise<void>;
}

export interface RequestOptions {
  token?: string;
  /** JSON-encoded unless `raw` is given. */
  body?: unknown;
  raw?: string | Buffer;
  headers?: Record<string, string>;
  /** Resolve with the status once headers arrive and drop the connection (endless streams). */
  headersOnly?: boolean;
}

export interface TestResponse {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON fields of responses
  json: any;
  text: string;
}

/** An in-process gateway on 127.0.0.1 port 0 with a temp data dir and a hand-driven clock. */
export async function startTestGateway(
  options: { databaseUrl?: string } = {},
): Promise<TestGateway> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'witness-gw-'));
  const clock = new ManualClock(Date.now());
  const logLines: string[] = [];
  const responses: string[] = [];
  const capture = (level: string) => (message: string, fields?: Record<string, unknown>) => {
    logLines.push(JSON.stringify({ level, message, ...fields }));
  };
  const log: Logger = { info: capture('info'), warn: capture('warn'), error: capture('error') };
  const gateway = await startGateway({
    dataDir,
    api: { host: '127.0.0.1', port: 0 },
    databaseUrl: options.databaseUrl,
    ...(options.databaseUrl && { sealingKey: Buffer.from(TEST_SEALING_KEY_BASE64, 'base64') }),
    clock,
    log,
  });
  const ca = gateway.services.keys.caPem;

  const request = (method: string, urlPath: string, opts: RequestOptions = {}) =>
    new Promise<TestResponse>((resolve, reject) => {
      const payload = opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
      const headers: Record<string, string> = { ...opts.headers };
      if (payload !== undefined && !headers['content-type'])
        headers['content-type'] = 'application/json';
      if (opts.token) headers.authorization = `Bearer ${opts.token}`;
      const req = https.request(
        new URL(urlPath, gateway.apiUrl),
        { method, headers, ca, servername: 'localhost' },
        (res) => {
          if (opts.headersOnly) {
            resolve({ status: res.statusCode ?? 0, json: undefined, text: '' });
            res.destroy();
            return;
          }
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            responses.push(text);
            let json: unknown;
            try {
              json = text ? JSON.parse(text) : undefined;
            } catch {
              json = undefined;
            }
            resolve({ status: res.statusCode ?? 0, json, text });
          });
        },
      );
      req.on('error', reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });

  return {
    gateway,
    clock,
    dataDir,
    logLines,
    responses,
    request,
    async createUser(username, role, password, groups = []) {
      const user = await gateway.services.store.createUser({
        id: newId('usr'),
        username,
        role,
        groups,
        passwordHash: await hashPassword(password),
        createdAt: clock.now(),
      });
      return user.id;
    },
    async login(username, password) {
      const response = await request('POST', '/v1/auth/login', { body: { username, password } });
      if (response.status !== 200) throw new Error(`login of ${username} failed: ${response.text}`);
      return response.json.accessToken as string;
    },
    async close() {
      await gateway.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
