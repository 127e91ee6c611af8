/**
 * `witness request`, `witness requests`, `witness approvals` and `witness admin grants`, run
 * in-process (runWitnessCli) against a real gateway over HTTPS (issue #14): an admin adds an
 * approval-required grant from the command line, an engineer asks, an approver approves, the
 * engineer sees it approved; the gateway's refusals reach the person as sentences.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InProcessCli, inProcessCli } from '../harness/cliInProcess.ts';
import { startTestGateway, type TestGateway } from '../harness/gatewayForTests.ts';

const PASSWORD = 'a-long-password-1';

describe('access requests from the witness CLI', () => {
  let gw: TestGateway;
  const ids: Record<string, string> = {};

  let cli: InProcessCli;
  /** Runs `witness …` as `who` (each person has their own config directory). */
  const witness = (who: string, args: string[], stdin?: string) => cli.run(who, args, stdin);

  beforeAll(async () => {
    gw = await startTestGateway();
    cli = inProcessCli(gw, 'witness-jit-cli-');
    Object.assign(
      ids,
      await cli.addPeople(
        [
          ['root', 'admin'],
          ['erin', 'engineer', ['ops']],
          ['lead', 'engineer', ['leads']],
        ],
        PASSWORD,
      ),
    );
    const resource = await gw.request('POST', '/v1/resources', {
      token: await gw.login('root', PASSWORD),
      body: {
        name: 'prod-db',
        target: { kind: 'ssh', host: '127.0.0.1', port: 22, username: 'deploy' },
      },
    });
    expect(resource.status).toBe(201);
  });
  afterAll(async () => {
    await gw?.close();
    cli?.close();
  });

  it('adds, lists and edits an approval-required grant with `witness admin grants`', async () => {
    const refused = await witness('erin', ['admin', 'grants', 'add', '--group', 'ops']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/exactly one target/);

    const added = await witness('root', [
      'admin',
      'grants',
      'add',
      '--group',
      'ops',
      '--resource',
      'prod-db',
      '--approval',
      '--max-session',
      '2h',
      '--approver-group',
      'leads',
      '--json',
    ]);
    expect(added.code, added.stderr).toBe(0);
    const grant = JSON.parse(added.stdout);
    expect(grant).toMatchObject({
      mode: 'approval',
      maxSessionSeconds: 7200,
      approvers: { users: [], groups: ['leads'] },
      approvalsRequired: 1,
    });
    const listed = await witness('root', ['admin', 'grants', 'list']);
    expect(listed.stdout).toContain(grant.id);
    expect(listed.stdout).toContain('1 of group:leads');
    // An engineer is no admin: the gateway refuses, and says so.
    const notAdmin = await witness('erin', ['admin', 'grants', 'delete', grant.id]);
    expect(notAdmin.code).toBe(1);
    expect(notAdmin.stderr).toMatch(/admin role/);
    const edited = await witness('root', [
      'admin',
      'grants',
      'edit',
      grant.id,
      '--description',
      'prod database, on approval',
    ]);
    expect(edited.code, edited.stderr).toBe(0);
    expect(edited.stdout).toContain(`Updated grant ${grant.id}`);
  });

  it('requests, approves and shows approved: `witness request`, `approvals`, `requests`', async () => {
    const resources = await witness('erin', ['resources']);
    expect(resources.stdout).toMatch(/prod-db\s+ssh\s+127\.0\.0\.1:22\s+requestable/);

    const tooLong = await witness('erin', ['request', 'prod-db', '--reason', 'x', '--for', '3h']);
    expect(tooLong.code).toBe(1);
    expect(tooLong.stderr).toMatch(/at most 2h/);
    const badDuration = await witness('erin', [
      'request',
      'prod-db',
      '--reason',
      'x',
      '--for',
      'soon',
    ]);
    expect(badDuration.code).toBe(2);

    const asked = await witness('erin', [
      'request',
      'prod-db',
      '--reason',
      'migrate the orders table',
      '--for',
      '2h',
    ]);
    expect(asked.code, asked.stderr).toBe(0);
    const requestId = /\((req_[a-z0-9]+)\)/.exec(asked.stdout)?.[1] as string;
    expect(asked.stdout).toContain('Requested 2h of access to prod-db');

    const queue = await witness('lead', ['approvals']);
    expect(queue.code, queue.stderr).toBe(0);
    expect(queue.stdout).toMatch(new RegExp(`${requestId}\\s+erin\\s+prod-db\\s+2h\\s+0/1`));
    // Nobody approves their own request.
    const own = await witness('erin', ['approvals', 'approve', requestId]);
    expect(own.code).toBe(1);
    expect(own.stderr).toMatch(/cannot approve or deny your own request/);
    expect((await witness('erin', ['approvals'])).stdout).toContain(
      'No requests are waiting for your decision.',
    );

    const approved = await witness('lead', [
      'approvals',
      'approve',
      requestId,
      '--comment',
      'go ahead',
    ]);
    expect(approved.code, approved.stderr).toBe(0);
    expect(approved.stdout).toMatch(/^Approved erin's request for prod-db: access until \d{4}-/);

    const mine = await witness('erin', ['requests']);
    expect(mine.stdout).toMatch(new RegExp(`${requestId}\\s+prod-db\\s+2h\\s+approved\\s+1/1`));
    const nowGranted = await witness('erin', ['resources']);
    expect(nowGranted.stdout).toMatch(/prod-db\s+ssh\s+127\.0\.0\.1:22\s+granted/);

    const json = JSON.parse((await witness('erin', ['requests', '--json'])).stdout);
    expect(json.requests[0]).toMatchObject({
      id: requestId,
      state: 'approved',
      decisions: [{ approverName: 'lead', comment: 'go ahead' }],
    });
  });

  it('lists groups and adds and removes members with `witness admin groups`', async () => {
    const added = await witness('root', [
      'admin',
      'groups',
      'add-member',
      'leads',
      ids.erin as string,
    ]);
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toBe('Group leads: erin, lead.\n');
    const listed = await witness('root', ['admin', 'groups']);
    expect(listed.stdout).toMatch(/leads\s+erin, lead/);
    expect(listed.stdout).toMatch(/ops\s+erin/);
    const removed = await witness('root', [
      'admin',
      'groups',
      'remove-member',
      'leads',
      ids.erin as string,
    ]);
    expect(removed.code, removed.stderr).toBe(0);
    expect((await witness('root', ['admin', 'groups'])).stdout).toMatch(/leads\s+lead\n/);
    const notAdmin = await witness('erin', ['admin', 'groups']);
    expect(notAdmin.code).toBe(1);
    expect(notAdmin.stderr).toMatch(/admin role/);
  });

  it('denies with a comment', async () => {
    // erin holds access now; another engineer in ops asks and is denied.
    Object.assign(ids, await cli.addPeople([['otto', 'engineer', ['ops']]], PASSWORD));
    const asked = await witness('otto', [
      'request',
      'prod-db',
      '--reason',
      'curious',
      '--for',
      '30m',
      '--json',
    ]);
    const requestId = JSON.parse(asked.stdout).id as string;
    const denied = await witness('lead', ['approvals', 'deny', requestId, '--comment', 'no need']);
    expect(denied.code, denied.stderr).toBe(0);
    expect(denied.stdout).toContain("Denied otto's request for prod-db.");
    expect((await witness('otto', ['requests'])).stdout).toMatch(/denied\s+0\/1/);
  });
});
