/**
 * The end of a time-boxed grant ends the live session it enabled (issue #14): an engineer's
 * access request is approved, she opens an SSH session through the gateway to a real OpenSSH
 * sshd, and when the issued grant's end passes the gateway ends the session within a second,
 * saying why.
 */
import type { Client } from 'ssh2';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithSshd, type SshTestBed, startSshTestBed } from '../harness/sshd.ts';

describeWithSshd('a time-boxed grant from an access request, through real sshd', () => {
  let bed: SshTestBed;

  beforeAll(async () => {
    bed = await startSshTestBed();
  });
  afterAll(async () => {
    await bed?.close();
  });

  it('ends the live session it enabled at the grant’s end, within a second', async () => {
    const admin = { token: bed.adminToken };
    const engineer = { token: bed.engineerToken };
    const resourceId = await bed.addResource('web-jit');
    // Replace the standing grant the bed made with an approval-required one (admins approve).
    const grants = await bed.gw.request('GET', '/v1/grants', admin);
    const standing = grants.json.grants.find(
      (g: { target: { resourceId?: string } }) => g.target.resourceId === resourceId,
    );
    expect((await bed.gw.request('DELETE', `/v1/grants/${standing.id}`, admin)).status).toBe(204);
    const me = await bed.gw.request('GET', '/v1/me', engineer);
    const approval = await bed.gw.request('POST', '/v1/grants', {
      ...admin,
      body: {
        subject: { kind: 'user', userId: me.json.id },
        target: { kind: 'resource', resourceId },
        mode: 'approval',
        maxSessionSeconds: 3600,
      },
    });
    expect(approval.status).toBe(201);

    const asked = await bed.gw.request('POST', '/v1/access-requests', {
      ...engineer,
      body: { resource: 'web-jit', reason: 'rotate the logs', durationSeconds: 120 },
    });
    expect(asked.status).toBe(201);
    const approved = await bed.gw.request('POST', `/v1/access-requests/${asked.json.id}/approve`, {
      ...admin,
      body: { comment: 'go ahead' },
    });
    expect(approved.json.state).toBe('approved');
    const accessUntil = Date.parse(approved.json.accessUntil);

    const { sessionId, ticket, expiresAt } = await bed.newSession('web-jit');
    expect(Date.parse(expiresAt)).toBe(accessUntil);
    const client: Client = await bed.connect(sessionId, ticket);
    let advancedAt = 0;
    const ended = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
      client.exec('echo started; sleep 30', (error, channel) => {
        if (error) return reject(error);
        let stdout = '';
        let stderr = '';
        channel.on('data', (chunk: Buffer) => {
          stdout += chunk.toString();
          if (advancedAt === 0) {
            // The grant's end passes.
            bed.gw.clock.advance(accessUntil - bed.gw.clock.now() + 1);
            advancedAt = Date.now();
          }
        });
        channel.stderr.on('data', (chunk: Buffer) => {
          stderr += chunk.toString();
        });
        channel.on('close', () => resolve({ stdout, stderr }));
      });
    });
    const latencyMs = Date.now() - advancedAt;
    console.log(`[access requests] session ended ${latencyMs} ms after its grant's end`);
    expect(latencyMs).toBeLessThan(1000);
    expect(ended.stdout).toBe('started\n');
    expect(ended.stderr).toMatch(/Your access to web-jit ended at/);
    client.end();

    const row = await bed.gw.gateway.services.store.getSession(sessionId);
    expect(row).toMatchObject({ state: 'ended', requestId: asked.json.id });
    // The request shows the session it enabled, and the recording names the request.
    const shown = await bed.gw.request('GET', `/v1/access-requests/${asked.json.id}`, engineer);
    expect(shown.json.sessionIds).toEqual([sessionId]);
    const recording = await bed.gw.request('GET', `/v1/recordings/${sessionId}`, admin);
    expect(recording.status).toBe(200);
    expect(recording.json.requestId).toBe(asked.json.id);
  });
});
