/**
 * The gateway serves the route table (shared/api/routeTable.ts), all of it and nothing else,
 * and every route refuses the callers it must: 401 without sign-in, 403 for a role it does not
 * allow. The expected access is written out here, apart from the table, so that a change of
 * who may call a route is a visible decision in this file too.
 */
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerApi } from '../../gateway/api/apiRoute.ts';
import { type ApiServices, registerRoutes } from '../../gateway/api/routes.ts';
import { API_PREFIX, type Role, roles } from '../../shared/api/apiSchemas.ts';
import {
  auditedAction,
  pathParams,
  type RouteName,
  type RouteSpec,
  routeNames,
  routePath,
  routeSpec,
} from '../../shared/api/routeTable.ts';
import { startTestGateway, type TestGateway } from '../harness/gatewayForTests.ts';

/** Who may call each route: the security policy, restated. */
const expectedAccess: Record<RouteName, 'public' | 'signed-in' | readonly Role[]> = {
  health: 'public',
  healthz: 'public',
  readyz: 'public',
  keys: 'public',
  login: 'public',
  refresh: 'public',
  enroll: 'public',
  logout: 'signed-in',
  me: 'signed-in',
  listOidcSignInOptions: 'public',
  startOidcSignIn: 'public',
  oidcCallback: 'public',
  exchangeOidcCode: 'public',
  listOidcProviders: ['admin'],
  createOidcProvider: ['admin'],
  updateOidcProvider: ['admin'],
  deleteOidcProvider: ['admin'],
  exchangeIdToken: 'public',
  listMachineIdentities: ['admin'],
  createMachineIdentity: ['admin'],
  deleteMachineIdentity: ['admin'],
  startTotpEnrollment: 'signed-in',
  confirmTotp: 'signed-in',
  listResources: 'signed-in',
  getResource: 'signed-in',
  createResource: ['admin'],
  updateResource: ['admin'],
  deleteResource: ['admin'],
  scanHostKey: ['admin'],
  testResource: ['admin'],
  tryPolicy: ['admin'],
  listGrants: 'signed-in',
  getGrant: 'signed-in',
  createGrant: ['admin'],
  updateGrant: ['admin'],
  deleteGrant: ['admin'],
  listGroups: ['admin'],
  addGroupMember: ['admin'],
  removeGroupMember: ['admin'],
  createAccessRequest: 'signed-in',
  listAccessRequests: 'signed-in',
  accessRequestEvents: 'signed-in',
  getAccessRequest: 'signed-in',
  approveAccessRequest: 'signed-in',
  denyAccessRequest: 'signed-in',
  createSession: 'signed-in',
  createDbCertificate: 'signed-in',
  listSessions: 'signed-in',
  getSession: 'signed-in',
  terminateSession: 'signed-in',
  listRecordings: 'signed-in',
  searchRecordings: 'signed-in',
  listRecordingProblems: ['admin', 'auditor'],
  getRecording: 'signed-in',
  streamRecording: 'signed-in',
  getRecordingSeekTable: 'signed-in',
  exportRecording: 'signed-in',
  listRecordingAccess: ['admin', 'auditor'],
  listUsers: ['admin'],
  createUser: ['admin'],
  disableUser: ['admin'],
  enableUser: ['admin'],
  setUserRole: ['admin'],
  resetUser: ['admin'],
  listAudit: ['admin', 'auditor'],
  exportAudit: ['admin', 'auditor'],
};

const PASSWORDS: Record<Role, string> = {
  admin: 'admin-password-1',
  auditor: 'auditor-password-1',
  engineer: 'engineer-password-1',
};

/** A concrete URL for a route: ids no record has (the role check comes before any lookup). */
function urlOf(spec: RouteSpec): string {
  const params = Object.fromEntries(pathParams(spec.path).map((name) => [name, 'none_1']));
  return `${API_PREFIX}${routePath(spec, params)}`;
}

const NO_ROUTE = /^There is no API route/;

describe('the gateway serves the route table', () => {
  let gw: TestGateway;
  const tokens = {} as Record<Role, string>;

  beforeAll(async () => {
    gw = await startTestGateway();
    for (const role of roles) {
      await gw.createUser(role, role, PASSWORDS[role]);
      tokens[role] = await gw.login(role, PASSWORDS[role]);
    }
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('restates the access of every route of the table, and only those', () => {
    expect(Object.keys(expectedAccess).sort()).toEqual([...routeNames].sort());
    for (const name of routeNames)
      expect(routeSpec(name).access, name).toEqual(expectedAccess[name]);
  });

  it('registers exactly the table, one handler per entry', async () => {
    const app = Fastify();
    const registered: string[] = [];
    app.addHook('onRoute', (route) => {
      for (const method of [route.method].flat()) {
        if (method !== 'HEAD') registered.push(`${method} ${route.url}`);
      }
    });
    const { services } = gw.gateway;
    const apiServices: ApiServices = {
      ...services,
      storeKind: services.store.kind,
      clock: gw.clock,
      version: 'test',
    };
    registerRoutes(app, apiServices);
    await app.ready();
    await app.close();
    const expected = routeNames.map((name) => {
      const spec = routeSpec(name);
      return `${spec.method} ${API_PREFIX}${spec.path}`;
    });
    expect(registered.sort()).toEqual(expected.sort());
  });

  it('refuses to start with a route that has no handler, or a handler that has no route', () => {
    const onlyHealth = { health: async () => ({}) } as unknown as Parameters<typeof registerApi>[2];
    expect(() =>
      registerApi(Fastify(), gw.gateway.services.auth, onlyHealth, gw.gateway.services.audit),
    ).toThrow(/no handler for healthz, readyz, keys, login, .*listRecordingAccess/);
    const stray = { ...onlyHealth, reportBug: async () => ({}) } as typeof onlyHealth;
    expect(() =>
      registerApi(Fastify(), gw.gateway.services.auth, stray, gw.gateway.services.audit),
    ).toThrow(/no route named reportBug/);
  });

  it('answers every route of the table (401 without sign-in unless public) and 404 elsewhere', async () => {
    for (const name of routeNames) {
      const spec = routeSpec(name);
      const response = await gw.request(spec.method, urlOf(spec), {
        ...(spec.body ? { body: {} } : {}),
      });
      if (spec.access === 'public') {
        expect(response.status, name).not.toBe(404);
        expect(response.status, name).not.toBe(401);
      } else {
        expect([response.status, response.json?.code], name).toEqual([401, 'unauthenticated']);
      }
    }
    const outside = await gw.request('GET', '/v1/not-a-route');
    expect(outside.status).toBe(404);
    expect(outside.json.message).toMatch(NO_ROUTE);
  });

  it('refuses each role a route does not allow with 403, and lets the others through', async () => {
    const refusals: string[] = [];
    for (const name of routeNames) {
      const spec = routeSpec(name);
      const access = expectedAccess[name];
      if (access === 'public') continue;
      for (const role of roles) {
        // Logging out would end the token the next routes need: use a fresh one.
        const token = name === 'logout' ? await gw.login(role, PASSWORDS[role]) : tokens[role];
        const response = await gw.request(spec.method, urlOf(spec), {
          token,
          ...(spec.body ? { body: {} } : {}),
          // The event stream answers 200 and stays open: its headers are the answer.
          ...(name === 'accessRequestEvents' ? { headersOnly: true } : {}),
        });
        const refusedByRole =
          response.status === 403 && /^This needs the .* role/.test(response.json?.message ?? '');
        if (access !== 'signed-in' && !access.includes(role)) {
          expect([response.status, response.json?.code], `${name} as ${role}`).toEqual([
            403,
            'forbidden',
          ]);
          expect(refusedByRole, `${name} as ${role}`).toBe(true);
          refusals.push(`${name}:${role}`);
        } else {
          expect(refusedByRole, `${name} as ${role}`).toBe(false);
          expect(response.status, `${name} as ${role}`).not.toBe(401);
          expect(response.json?.message ?? '', `${name} as ${role}`).not.toMatch(NO_ROUTE);
        }
      }
    }
    // The admin-only routes (6 for resources and grants, 6 for users, 3 for groups, 3 for the
    // resource and policy tools, 4 for identity providers, 3 for machine identities) refuse two roles each; the access log, the recording problems
    // and the audit log's two routes refuse engineers.
    expect(refusals).toContain('createResource:engineer');
    expect(refusals).toContain('deleteGrant:auditor');
    expect(refusals).toContain('listRecordingAccess:engineer');
    expect(refusals).toContain('listRecordingProblems:engineer');
    expect(refusals).toContain('disableUser:engineer');
    expect(refusals).toContain('setUserRole:auditor');
    expect(refusals).toContain('scanHostKey:engineer');
    expect(refusals).toContain('testResource:auditor');
    expect(refusals).toContain('tryPolicy:engineer');
    expect(refusals).toContain('listAudit:engineer');
    expect(refusals).toContain('exportAudit:engineer');
    expect(refusals).toContain('resetUser:engineer');
    expect(refusals).toContain('resetUser:auditor');
    expect(refusals).toContain('createOidcProvider:engineer');
    expect(refusals).toContain('listOidcProviders:auditor');
    expect(refusals).toContain('createMachineIdentity:auditor');
    expect(refusals).toHaveLength(25 * 2 + 4);
  });

  // Runs after the walk above, which called every route as every role (issue #14).
  it('audits every call of every audited route, derived from the table, refused ones too', async () => {
    const audited = routeNames.filter((name) => auditedAction(name, routeSpec(name)) !== null);
    // Every route limited to roles that changes something is an admin action, with no list
    // of them kept anywhere: a new admin route is audited the day it is added.
    // The one opt-out (`audit: false`) is a computation on the request alone; naming it here
    // keeps a second opt-out from slipping in unreviewed.
    const optedOut = routeNames.filter((name) => routeSpec(name).audit === false);
    expect(optedOut).toEqual(['tryPolicy']);
    for (const name of routeNames) {
      const spec = routeSpec(name);
      if (Array.isArray(spec.access) && spec.method !== 'GET' && spec.audit !== false) {
        expect(audited).toContain(name);
      }
    }
    expect(audited).toEqual(
      expect.arrayContaining(['createAccessRequest', 'approveAccessRequest', 'terminateSession']),
    );
    const entries = await gw.gateway.services.store.listAuditEntries({ limit: 10_000 });
    for (const name of audited) {
      const action = auditedAction(name, routeSpec(name));
      const calls = entries.filter((entry) => entry.action === action);
      // One entry per signed-in call: the walk called each as each of the three roles.
      expect(calls.map((entry) => entry.actorName).sort(), `${name} (${action})`).toEqual(
        [...roles].sort(),
      );
      const access = expectedAccess[name];
      for (const entry of calls) {
        const refusedByRole =
          access !== 'signed-in' &&
          access !== 'public' &&
          !access.includes(entry.actorName as Role);
        if (refusedByRole) expect(entry.outcome, `${name} as ${entry.actorName}`).toBe('refused');
      }
    }
    // Reads, sign-ins and policy trials are not admin actions (the walk called tryPolicy as
    // each role).
    expect(entries.some((entry) => entry.action.includes('listUsers'))).toBe(false);
    expect(entries.some((entry) => entry.action.includes('tryPolicy'))).toBe(false);
  });
});
