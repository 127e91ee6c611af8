import { describe, expect, it } from 'vitest';
import type { TerminalEndReason } from '../../../main/ipc/contract.ts';
import { endReasonMessage } from './endReasonMessage.ts';

const msg = (reason: TerminalEndReason) => endReasonMessage(reason, 'web-1');

describe('endReasonMessage', () => {
  it('reports a clean exit, an exit code and a signal differently', () => {
    expect(msg({ kind: 'exited', exitCode: 0, signal: null }).detail).toBe(
      'The remote shell on web-1 exited.',
    );
    expect(msg({ kind: 'exited', exitCode: 3, signal: null }).detail).toContain('with code 3');
    expect(msg({ kind: 'exited', exitCode: null, signal: 'KILL' }).detail).toContain('signal KILL');
  });

  it('names each gateway cause and keeps the gateway’s words', () => {
    const gateway = (cause: Extract<TerminalEndReason, { kind: 'gateway' }>['cause']) =>
      msg({ kind: 'gateway', cause, message: 'grant g-1 ended at 14:02' });
    expect(gateway('expired').title).toBe('Session expired');
    expect(gateway('expired').detail).toContain('grant g-1 ended at 14:02');
    expect(gateway('terminated').title).toBe('Terminated by an admin');
    expect(gateway('revoked').title).toBe('Access revoked');
    expect(gateway('disabled').title).toBe('Account disabled');
    expect(gateway('recording_failed').title).toBe('Recording failed');
    expect(gateway('other').title).toBe('Session ended by the gateway');
  });

  it('does not offer a reconnect that cannot work', () => {
    expect(msg({ kind: 'gateway', cause: 'revoked', message: '' }).canReconnect).toBe(false);
    expect(msg({ kind: 'gateway', cause: 'disabled', message: '' }).canReconnect).toBe(false);
    expect(msg({ kind: 'connection-lost', message: 'socket closed.' }).canReconnect).toBe(true);
  });

  it('says the connection dropped, with the reason', () => {
    const m = msg({ kind: 'connection-lost', message: 'ECONNRESET.' });
    expect(m.title).toBe('Connection lost');
    expect(m.detail).toContain('ECONNRESET.');
  });

  it('omits the gateway quote when it gave no message', () => {
    expect(msg({ kind: 'gateway', cause: 'terminated', message: ' ' }).detail).not.toContain(
      'gateway said',
    );
  });
});
