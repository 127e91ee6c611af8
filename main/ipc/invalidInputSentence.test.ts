import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { CallerContext, CallHandlers } from './contract.ts';
import { createDispatcher } from './dispatcher.ts';
import {
  fieldLabel,
  invalidInputSentence,
  problemOfMessage,
  problemOfZodIssue,
  sentenceOfApiIssues,
} from './invalidInputSentence.ts';

/** Words that only a schema library would write (zod 4's defaults), never the app. */
const SCHEMA_WORDING = /Too big|Too small|expected|<=|>=|Invalid (input|string|option)|received/;

const caller: CallerContext = { clientId: 'test', emit: () => {} };
/** Refusals happen before any handler runs, so none is needed. */
const dispatcher = createDispatcher({} as CallHandlers);

async function refusal(name: string, request: unknown): Promise<string> {
  const outcome = await dispatcher.dispatch(name, request, caller);
  if (outcome.ok) throw new Error(`${name} was accepted`);
  expect(outcome.error.code).toBe('invalid_request');
  return outcome.error.message;
}

describe('refused input in the app’s words', () => {
  it('a 500-character username at sign-in names the field and its limit', async () => {
    const message = await refusal('account.login', { username: 'a'.repeat(500), password: 'pw' });
    expect(message).toBe('The username is too long (200 characters at most).');
  });

  it.each([
    [{ username: '', password: 'pw' }, 'Enter the username.'],
    [{ username: 'ada' }, 'Enter the password.'],
    [
      { username: 'ada', password: 'pw', totpCode: '12' },
      'The authentication code is not in the expected form.',
    ],
    [
      { username: 'ada', password: 'pw', extra: 1 },
      'The request carried fields the app does not know — update Witness.',
    ],
  ])('account.login %j → %s', async (request, sentence) => {
    expect(await refusal('account.login', request)).toBe(sentence);
  });

  it('no refusal of a malformed call carries schema wording', async () => {
    const cases: [string, unknown][] = [
      ['terminals.resize', { terminalId: 't', size: { cols: 1e9, rows: 24 } }],
      ['terminals.resize', { terminalId: 't', size: { cols: 0, rows: 24 } }],
      ['terminals.write', { terminalId: 't', data: 'x'.repeat(64 * 1024 + 1) }],
      ['gateway.inspect', 'http://example'],
      ['recordings.list', { limit: 10_000 }],
      ['account.enroll', { link: 'x'.repeat(5000), password: 'p' }],
    ];
    for (const [name, request] of cases) {
      const message = await refusal(name, request);
      expect(message, name).not.toMatch(SCHEMA_WORDING);
      expect(message, name).toMatch(/^[A-Z].*\.$/);
    }
  });

  it('reads zod’s issues by their code, not their text', () => {
    const schema = z.strictObject({
      port: z.number().int().min(1).max(65535),
      labels: z.array(z.string()).max(2),
      role: z.enum(['admin', 'engineer']),
    });
    const result = schema.safeParse({ port: 70000, labels: ['a', 'b', 'c'], role: 'root' });
    const issues = result.error?.issues ?? [];
    expect(
      invalidInputSentence(issues.map((i) => ({ path: i.path, problem: problemOfZodIssue(i) }))),
    ).toBe(
      'The port is too large (65535 at most). The labels has too many entries (2 at most). ' +
        'The role is not one of the choices.',
    );
  });

  it('re-says the gateway’s 400 issues and keeps a schema author’s own sentence', () => {
    expect(
      sentenceOfApiIssues([
        { path: 'username', message: 'Too big: expected string to have <=64 characters' },
      ]),
    ).toBe('The username is too long (64 characters at most).');
    expect(
      sentenceOfApiIssues([{ path: 'password', message: 'passwords need at least 10 characters' }]),
    ).toBe('Passwords need at least 10 characters.');
    expect(problemOfMessage('Invalid input: expected string, received undefined')).toEqual({
      kind: 'missing',
    });
    expect(problemOfMessage('Too small: expected number to be >=1')).toEqual({
      kind: 'too-short',
      min: 1,
      unit: 'value',
    });
  });

  it('names fields as the forms do', () => {
    expect(fieldLabel(['totpCode'])).toBe('authentication code');
    expect(fieldLabel('target.privateKey')).toBe('private key');
    expect(fieldLabel('policy.masking.0.maxRows')).toBe('max rows');
    expect(fieldLabel([])).toBe('request');
  });
});
