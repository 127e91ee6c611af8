import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { AccessRequestEvent } from '../../../shared/api/apiSchemas.ts';
import { AccessRequestFeed } from './accessRequestFeed.ts';

const request = {
  id: 'req_1',
  userId: 'usr_eve',
  username: 'eve',
  resourceId: 'res_1',
  resourceName: 'web-1',
  grantId: 'grt_1',
  reason: 'incident 42',
  durationSeconds: 1800,
  approvalsRequired: 1,
  state: 'approved',
  createdAt: '2026-01-01T10:00:00Z',
  decidedAt: '2026-01-01T10:01:00Z',
  issuedGrantId: 'grt_2',
  accessUntil: '2026-01-01T10:31:00Z',
  decisions: [],
  sessionIds: [],
  canDecide: false,
};

function streams() {
  const opened: PassThrough[] = [];
  const follow = async () => {
    const body = new PassThrough();
    opened.push(body);
    return { body, contentType: 'text/event-stream', contentLength: null };
  };
  return { opened, follow };
}

const until = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
};

describe('AccessRequestFeed', () => {
  it('follows while signed in, passes each event on, and reopens a dropped stream', async () => {
    const { opened, follow } = streams();
    const seen: AccessRequestEvent[] = [];
    const feed = new AccessRequestFeed({
      follow,
      onEvent: (e) => seen.push(e),
      log: () => {},
      retryDelaysMs: [5],
    });
    feed.sync('usr_eve');
    await until(() => opened.length === 1);
    opened[0]?.write(': subscribed\n\n');
    opened[0]?.write(`data: ${JSON.stringify({ kind: 'approved', request })}\n\n`);
    opened[0]?.write('data: not json\n\n');
    await until(() => seen.length === 1);
    expect(seen[0]?.request.state).toBe('approved');

    opened[0]?.end();
    await until(() => opened.length === 2);
    feed.stop();
    expect(opened[1]?.destroyed).toBe(true);
  });

  it('stops on sign-out and follows the new user after another sign-in', async () => {
    const { opened, follow } = streams();
    const feed = new AccessRequestFeed({ follow, onEvent: () => {}, log: () => {} });
    feed.sync('usr_eve');
    await until(() => opened.length === 1);
    feed.sync('usr_eve'); // the same user: nothing new
    feed.sync(null);
    expect(opened[0]?.destroyed).toBe(true);
    feed.sync('usr_ada');
    await until(() => opened.length === 2);
    feed.stop();
  });
});
