import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { API_PREFIX } from './apiSchemas.ts';
import {
  apiRoutes,
  matchRoute,
  pathParams,
  routeNames,
  routePath,
  routeSpec,
} from './routeTable.ts';

/** A value for each path parameter, awkward on purpose: it must survive URL encoding. */
function sampleParams(path: string): Record<string, string> {
  return Object.fromEntries(pathParams(path).map((name) => [name, `x_${name}-1`]));
}

describe('the API route table', () => {
  it('declares, for each path parameter, a params schema with exactly those keys', () => {
    for (const name of routeNames) {
      const spec = routeSpec(name);
      const declared = pathParams(spec.path);
      if (declared.length === 0) {
        expect(spec.params, name).toBeUndefined();
        continue;
      }
      expect(spec.params, name).toBeInstanceOf(z.ZodObject);
      expect(Object.keys((spec.params as z.ZodObject).shape).sort(), name).toEqual(
        [...declared].sort(),
      );
    }
  });

  it('has one route per method and path', () => {
    const keys = routeNames.map((name) => `${routeSpec(name).method} ${routeSpec(name).path}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('takes a body only on methods that carry one', () => {
    for (const name of routeNames) {
      const spec = routeSpec(name);
      if (spec.method === 'GET' || spec.method === 'DELETE')
        expect(spec.body, name).toBeUndefined();
    }
  });

  it('marks stream routes as GETs and sends status codes a client expects', () => {
    for (const name of routeNames) {
      const spec = routeSpec(name);
      if (spec.response === 'stream') expect(spec.method, name).toBe('GET');
      if (spec.status !== undefined) expect([200, 201], name).toContain(spec.status);
    }
  });

  it('matches every path it builds back to the same route and parameters', () => {
    for (const name of routeNames) {
      const spec = routeSpec(name);
      const params = sampleParams(spec.path);
      const built = routePath(spec, params);
      expect(matchRoute(spec.method, `${API_PREFIX}${built}`), name).toEqual({ name, params });
    }
  });

  it('encodes parameters and the query, and a static segment wins over a parameter', () => {
    expect(routePath(apiRoutes.getResource, { id: 'a/b c' })).toBe('/resources/a%2Fb%20c');
    expect(matchRoute('GET', '/v1/resources/a%2Fb%20c')).toEqual({
      name: 'getResource',
      params: { id: 'a/b c' },
    });
    expect(
      routePath(apiRoutes.listSessions, undefined, { state: 'live', limit: 5, userId: undefined }),
    ).toBe('/sessions?state=live&limit=5');
    expect(matchRoute('GET', '/v1/recordings/search')?.name).toBe('searchRecordings');
    expect(matchRoute('GET', '/v1/recordings/s_1')?.name).toBe('getRecording');
  });

  it('names no route for other methods, paths or malformed escapes', () => {
    expect(matchRoute('PUT', '/v1/resources')).toBeUndefined();
    expect(matchRoute('GET', '/v1/nothing')).toBeUndefined();
    expect(matchRoute('GET', '/resources')).toBeUndefined();
    expect(matchRoute('GET', '/v1/resources/%E0%A4%A')).toBeUndefined();
  });

  it('refuses to build a path without its parameters', () => {
    expect(() => routePath(apiRoutes.getGrant, {})).toThrow(/needs its id parameter/);
  });
});
