/**
 * The client and the test fake cannot drift from the route table (shared/api/routeTable.ts):
 * every client method sends a request the table names, the client writes no URL of its own,
 * and the fake serves the table's routes and nothing else.
 */
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_PREFIX } from '../shared/api/apiSchemas.ts';
import {
  matchRoute,
  pathParams,
  type RouteName,
  routeNames,
  routePath,
  routeSpec,
} from '../shared/api/routeTable.ts';
import { type FakeGateway, startFakeGateway } from './fixtures/fakeGateway.ts';
import { createTestPki, type TestPki } from './fixtures/testPki.ts';
import { type Download, GatewayClient } from './gatewayClient.ts';

/** Every public method of the client that calls the API, with arguments and the route it uses. */
const calls: Record<string, { route: RouteName; run: (c: GatewayClient) => Promise<unknown> }> = {
  health: { route: 'health', run: (c) => c.health() },
  keys: { route: 'keys', run: (c) => c.keys() },
  liveness: { route: 'healthz', run: (c) => c.liveness() },
  readiness: { route: 'readyz', run: (c) => c.readiness() },
  login: {
    route: 'login',
    run: (c) => c.login({ username: 'alice', password: 'alice-password-1' }),
  },
  refresh: { route: 'refresh', run: (c) => c.refresh('rt_unknown') },
  enroll: {
    route: 'enroll',
    run: (c) => c.enroll({ token: 'unknown', password: 'a-long-password' }),
  },
  logout: { route: 'logout', run: (c) => c.logout({ refreshToken: 'rt_unknown' }) },
  me: { route: 'me', run: (c) => c.me() },
  startTotpEnrollment: { route: 'startTotpEnrollment', run: (c) => c.startTotpEnrollment() },
  confirmTotp: { route: 'confirmTotp', run: (c) => c.confirmTotp('123456') },
  listResources: { route: 'listResources', run: (c) => c.listResources() },
  getResource: { route: 'getResource', run: (c) => c.getResource('r_db') },
  createResource: {
    route: 'createResource',
    run: (c) =>
      c.createResource({
        name: 'web-2',
        target: { kind: 'ssh', host: '10.0.0.6', port: 22, username: 'ops' },
      }),
  },
  updateResource: {
    route: 'updateResource',
    run: (c) => c.updateResource('r_db', { description: 'x' }),
  },
  deleteResource: { route: 'deleteResource', run: (c) => c.deleteResource('r_db') },
  scanHostKey: { route: 'scanHostKey', run: (c) => c.scanHostKey('10.0.0.6', 22) },
  testResource: { route: 'testResource', run: (c) => c.testResource('r_db') },
  tryPolicy: {
    route: 'tryPolicy',
    run: (c) => c.tryPolicy({ policy: { masking: [], guardrails: [] }, sampleQuery: 'select 1' }),
  },
  listGrants: { route: 'listGrants', run: (c) => c.listGrants() },
  getGrant: { route: 'getGrant', run: (c) => c.getGrant('g_1') },
  createGrant: {
    route: 'createGrant',
    run: (c) =>
      c.createGrant({
        subject: { kind: 'group', group: 'dev' },
        target: { kind: 'resource', resourceId: 'r_db' },
      }),
  },
  updateGrant: { route: 'updateGrant', run: (c) => c.updateGrant('g_1', { description: 'x' }) },
  deleteGrant: { route: 'deleteGrant', run: (c) => c.deleteGrant('g_1') },
  listGroups: { route: 'listGroups', run: (c) => c.listGroups() },
  addGroupMember: { route: 'addGroupMember', run: (c) => c.addGroupMember('dev', 'u_bob') },
  removeGroupMember: {
    route: 'removeGroupMember',
    run: (c) => c.removeGroupMember('dev', 'u_bob'),
  },
  requestAccess: {
    route: 'createAccessRequest',
    run: (c) => c.requestAccess({ resource: 'r_db', reason: 'x', durationSeconds: 600 }),
  },
  listAccessRequests: { route: 'listAccessRequests', run: (c) => c.listAccessRequests() },
  getAccessRequest: { route: 'getAccessRequest', run: (c) => c.getAccessRequest('q_1') },
  approveAccessRequest: {
    route: 'approveAccessRequest',
    run: (c) => c.approveAccessRequest('q_1', 'ok'),
  },
  denyAccessRequest: { route: 'denyAccessRequest', run: (c) => c.denyAccessRequest('q_1') },
  followAccessRequests: { route: 'accessRequestEvents', run: (c) => c.followAccessRequests() },
  createSession: { route: 'createSession', run: (c) => c.createSession('r_db') },
  createDbCertificate: {
    route: 'createDbCertificate',
    run: (c) => c.createDbCertificate({ resource: 'r_db', publicKeyPem: 'not a key' }),
  },
  listSessions: { route: 'listSessions', run: (c) => c.listSessions({ limit: 5 }) },
  getSession: { route: 'getSession', run: (c) => c.getSession('s_1') },
  terminateSession: {
    route: 'terminateSession',
    run: (c) => c.terminateSession('s_1', 'incident 42'),
  },
  listUsers: { route: 'listUsers', run: (c) => c.listUsers() },
  createUser: { route: 'createUser', run: (c) => c.createUser({ username: 'carol' }) },
  disableUser: { route: 'disableUser', run: (c) => c.disableUser('usr_1') },
  enableUser: { route: 'enableUser', run: (c) => c.enableUser('usr_1') },
  setUserRole: { route: 'setUserRole', run: (c) => c.setUserRole('usr_1', 'auditor') },
  resetUser: { route: 'resetUser', run: (c) => c.resetUser('usr_1', { totp: true }) },
  listRecordings: { route: 'listRecordings', run: (c) => c.listRecordings() },
  listRecordingsPage: { route: 'listRecordings', run: (c) => c.listRecordingsPage() },
  searchRecordings: { route: 'searchRecordings', run: (c) => c.searchRecordings({ q: 'ls' }) },
  getRecording: { route: 'getRecording', run: (c) => c.getRecording('s_1') },
  downloadRecording: { route: 'streamRecording', run: (c) => c.downloadRecording('s_1') },
  followRecording: { route: 'streamRecording', run: (c) => c.followRecording('s_1') },
  downloadRecordingRange: {
    route: 'streamRecording',
    run: (c) => c.downloadRecordingRange('s_1', 0, 10),
  },
  getRecordingSeekTable: {
    route: 'getRecordingSeekTable',
    run: (c) => c.getRecordingSeekTable('s_1'),
  },
  exportRecording: {
    route: 'exportRecording',
    run: (c) => c.exportRecording('s_1', { format: 'bundle' }),
  },
  listRecordingAccess: { route: 'listRecordingAccess', run: (c) => c.listRecordingAccess() },
  listRecordingProblems: { route: 'listRecordingProblems', run: (c) => c.listRecordingProblems() },
  listAudit: { route: 'listAudit', run: (c) => c.listAudit({ actor: 'bob' }) },
  exportAudit: { route: 'exportAudit', run: (c) => c.exportAudit() },
  listOidcSignInOptions: { route: 'listOidcSignInOptions', run: (c) => c.listOidcSignInOptions() },
  startOidcSignIn: {
    route: 'startOidcSignIn',
    run: (c) =>
      c.startOidcSignIn('corp', {
        redirect_uri: 'http://127.0.0.1:5000/callback',
        state: 's'.repeat(20),
        code_challenge: 'a'.repeat(43),
        code_challenge_method: 'S256',
      }),
  },
  oidcCallback: { route: 'oidcCallback', run: (c) => c.oidcCallback({ state: 'x', code: 'y' }) },
  exchangeOidcCode: {
    route: 'exchangeOidcCode',
    run: (c) =>
      c.exchangeOidcCode({ code: 'c', codeVerifier: 'v', redirectUri: 'http://127.0.0.1:1/cb' }),
  },
  listOidcProviders: { route: 'listOidcProviders', run: (c) => c.listOidcProviders() },
  createOidcProvider: {
    route: 'createOidcProvider',
    run: (c) =>
      c.createOidcProvider({
        name: 'corp',
        issuer: 'https://idp.example.com',
        clientId: 'witness',
        clientSecret: 'secret',
      }),
  },
  updateOidcProvider: {
    route: 'updateOidcProvider',
    run: (c) => c.updateOidcProvider('corp', { displayName: 'Corp' }),
  },
  deleteOidcProvider: { route: 'deleteOidcProvider', run: (c) => c.deleteOidcProvider('corp') },
  exchangeIdToken: { route: 'exchangeIdToken', run: (c) => c.exchangeIdToken('eyJ.not-a.token') },
  listMachineIdentities: { route: 'listMachineIdentities', run: (c) => c.listMachineIdentities() },
  createMachineIdentity: {
    route: 'createMachineIdentity',
    run: (c) =>
      c.createMachineIdentity({
        name: 'ci-deploy',
        issuer: 'https://token.actions.githubusercontent.com',
        audience: 'witness',
        claims: { repository: 'acme/app' },
      }),
  },
  deleteMachineIdentity: {
    route: 'deleteMachineIdentity',
    run: (c) => c.deleteMachineIdentity('ci-deploy'),
  },
};

/** The client's own machinery: everything else on its prototype is an API method. */
const plumbing = [
  'constructor',
  'close',
  'call',
  'callJson',
  'download',
  'openDownload',
  'currentTokens',
  'refreshAfterExpiry',
  'interpret',
  'parseJson',
  'send',
];

let pki: TestPki;
let gateway: FakeGateway;
let client: GatewayClient;

beforeAll(async () => {
  pki = await createTestPki();
  gateway = await startFakeGateway(pki);
  const signIn = new GatewayClient({ baseUrl: gateway.url, caPem: pki.caPem });
  // bob is an admin: the fake lets him through every route, so each call reaches its handler.
  const pair = await signIn.login({ username: 'bob', password: 'bob-password-12', totp: '123456' });
  signIn.close();
  client = new GatewayClient(
    { baseUrl: gateway.url, caPem: pki.caPem },
    { tokens: () => pair, tokensRefreshed: () => {} },
  );
});

afterAll(async () => {
  client?.close();
  await gateway?.close();
});

/** A request to the fake as is, with bob's token. */
function rawRequest(method: string, path: string, token?: string) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = https.request(
      new URL(path, gateway.url),
      {
        method,
        ca: pki.caPem,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(method === 'GET' || method === 'DELETE'
            ? {}
            : { 'content-type': 'application/json' }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    req.on('error', reject);
    req.end(method === 'GET' || method === 'DELETE' ? undefined : '{}');
  });
}

describe('the client derives from the route table', () => {
  it('lists every API method of the client here', () => {
    const methods = Object.getOwnPropertyNames(GatewayClient.prototype).filter(
      (name) => !plumbing.includes(name),
    );
    expect(methods.sort()).toEqual(Object.keys(calls).sort());
  });

  it('sends each method to the route of the table it names', async () => {
    for (const [method, { route, run }] of Object.entries(calls)) {
      gateway.requests.length = 0;
      const outcome = await run(client).catch((error: unknown) => error);
      if (outcome && typeof outcome === 'object' && 'body' in outcome) {
        (outcome as Download).body.destroy();
      }
      const sent = gateway.requests.map((r) => {
        const url = new URL(r.path, 'https://fake');
        return matchRoute(r.method, url.pathname)?.name ?? `unmatched ${r.method} ${r.path}`;
      });
      expect(sent, method).toEqual([route]);
    }
  });

  it('covers every route of the table with a method', () => {
    const used = new Set(Object.values(calls).map((c) => c.route));
    expect(routeNames.filter((name) => !used.has(name))).toEqual([]);
  });

  it('writes no URL of its own: paths come from the table', () => {
    const source = readFileSync(new URL('./gatewayClient.ts', import.meta.url), 'utf8')
      // Comments may name paths; code may not.
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/^\s*\/\/.*$/gm, '');
    // A quoted or template string starting with a path segment, e.g. '/auth/login', `/grants/${
    const literals = [...source.matchAll(/['"`]\/[A-Za-z0-9_-]+/g)].map((m) => m[0]);
    expect(literals).toEqual([]);
    expect(source).not.toMatch(/API_PREFIX\}\//);
  });
});

describe('the fake serves the route table', () => {
  it('answers every route of the table (implemented, or a clear 501), and 404 elsewhere', async () => {
    const pair = await client.login({
      username: 'bob',
      password: 'bob-password-12',
      totp: '123456',
    });
    const implemented: RouteName[] = [];
    for (const name of routeNames) {
      const spec = routeSpec(name);
      const params = Object.fromEntries(pathParams(spec.path).map((p) => [p, 'none_1']));
      const { status, body } = await rawRequest(
        spec.method,
        `${API_PREFIX}${routePath(spec, params)}`,
        pair.accessToken,
      );
      expect(body, name).not.toMatch(/no route/);
      if (status === 501) expect(body, name).toContain(`does not implement ${name}`);
      else implemented.push(name);
    }
    // What the client's and the CLI's tests lean on.
    expect(implemented).toEqual(
      expect.arrayContaining([
        'health',
        'login',
        'refresh',
        'me',
        'listResources',
        'createSession',
      ]),
    );
    const outside = await rawRequest('GET', '/v1/not-a-route', pair.accessToken);
    expect(outside.status).toBe(404);
    expect(outside.body).toMatch(/no route GET \/v1\/not-a-route/);
  });

  it('checks sign-in and roles from the table', async () => {
    expect((await rawRequest('GET', '/v1/me')).status).toBe(401);
    const alice = await client.login({ username: 'alice', password: 'alice-password-1' });
    const refused = await rawRequest('POST', '/v1/resources', alice.accessToken);
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.body)).toMatchObject({ code: 'forbidden' });
  });

  it('lets a test override only a route of the table', () => {
    expect(() => gateway.override('GET /v1/not-a-route', () => {})).toThrow(
      /not a route of the table/,
    );
    expect(() => gateway.override('GET /v1/recordings/s_9/export', () => {})).not.toThrow();
  });
});
