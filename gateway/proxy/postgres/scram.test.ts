import { describe, expect, it } from 'vitest';
import { SCRAM_SHA_256, ScramClient, ScramError, ScramServer } from './scram.ts';

// RFC 7677 §3: user "user", password "pencil".
const RFC = {
  clientNonce: 'rOprNGfwEbeRWgbNEkqO',
  serverNonce: '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
  salt: Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'),
  clientFirst: 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO',
  serverFirst:
    'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
  clientFinal:
    'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
};

describe('SCRAM-SHA-256 (RFC 5802 / RFC 7677)', () => {
  it('reproduces the RFC 7677 test vector on both sides', async () => {
    const client = new ScramClient('pencil', { nonce: RFC.clientNonce, user: 'user' });
    expect(client.firstMessage().toString()).toBe(RFC.clientFirst);
    const final = await client.finalMessage(Buffer.from(RFC.serverFirst));
    expect(final.toString()).toBe(RFC.clientFinal);
    client.verifyServerFinal(Buffer.from(RFC.serverFinal));

    const server = new ScramServer('pencil', { salt: RFC.salt, nonce: RFC.serverNonce });
    expect(server.firstMessage(Buffer.from(RFC.clientFirst)).toString()).toBe(RFC.serverFirst);
    expect((await server.finalMessage(Buffer.from(RFC.clientFinal))).toString()).toBe(
      RFC.serverFinal,
    );
  });

  it('runs a whole exchange between the two sides', async () => {
    // (node-postgres over TLS sends gs2 flag 'y'; the integration tests cover that client.)
    const client = new ScramClient('wtk_ticket');
    const server = new ScramServer('wtk_ticket');
    const serverFirst = server.firstMessage(client.firstMessage());
    const serverFinal = await server.finalMessage(await client.finalMessage(serverFirst));
    client.verifyServerFinal(serverFinal);
    expect(SCRAM_SHA_256).toBe('SCRAM-SHA-256');
  });

  it('refuses a wrong password, channel binding, a changed nonce and a server that does not know the password', async () => {
    const wrong = new ScramClient('not-the-ticket');
    const server = new ScramServer('wtk_ticket');
    const serverFirst = server.firstMessage(wrong.firstMessage());
    await expect(server.finalMessage(await wrong.finalMessage(serverFirst))).rejects.toMatchObject({
      wrongPassword: true,
    });

    expect(() =>
      new ScramServer('x').firstMessage(Buffer.from('p=tls-server-end-point,,n=,r=abc')),
    ).toThrow(/channel binding/);
    expect(() => new ScramServer('x').firstMessage(Buffer.from('garbage'))).toThrow(ScramError);

    const client = new ScramClient('wtk_ticket');
    const other = new ScramServer('wtk_ticket');
    const first = other.firstMessage(client.firstMessage());
    const final = (await client.finalMessage(first)).toString();
    const tampered = final.replace(/,r=([^,]+)/, (_m, nonce: string) => `,r=${nonce}x`);
    await expect(other.finalMessage(Buffer.from(tampered))).rejects.toThrow(/nonce mismatch/);

    const impostor = new ScramServer('another-password');
    const victim = new ScramClient('wtk_ticket');
    const impostorFirst = impostor.firstMessage(victim.firstMessage());
    await victim.finalMessage(impostorFirst);
    const forged = Buffer.from(`v=${Buffer.alloc(32).toString('base64')}`);
    expect(() => victim.verifyServerFinal(forged)).toThrow(/does not know the password/);
    await expect(
      new ScramClient('x').finalMessage(Buffer.from('r=other,s=c2FsdA==,i=4096')),
    ).rejects.toThrow(/nonce that does not extend ours/);
  });
});
