/**
 * `witness recordings …` driven through `runWitnessCli`: verify offline on real bundles (good,
 * tampered, interrupted), and list/export against the fake gateway over real HTTPS.
 */
import { promises as fs } from 'node:fs';
import type { ServerResponse } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Recording } from '../../shared/api/apiSchemas.ts';
import {
  buildSshRecording,
  generateRecordingKey,
  RecordingBuilder,
  type TestRecordingKey,
} from '../../shared/recording/fixtures/recordingFixture.ts';
import { publicKeyFingerprint, writeBundle } from '../../shared/recording/recordingBundle.ts';
import { verifyRecording } from '../../shared/recording/verifyRecording.ts';
import { collectText } from '../../test/harness/textCollector.ts';
import {
  type FakeGateway,
  sendError,
  sendJson,
  startFakeGateway,
} from '../fixtures/fakeGateway.ts';
import { createTestPki, type TestPki } from '../fixtures/testPki.ts';
import { GatewayClient } from '../gatewayClient.ts';
import { runWitnessCli } from './witnessCli.ts';

let pki: TestPki;
let key: TestRecordingKey;
let otherKey: TestRecordingKey;
let home: string;
let configDir: string;

beforeAll(async () => {
  pki = await createTestPki();
  key = generateRecordingKey();
  otherKey = generateRecordingKey();
});

beforeEach(async () => {
  home = await fs.mkdtemp(path.join(os.tmpdir(), 'witness-rec-cli-'));
  configDir = path.join(home, '.witness');
});

afterEach(async () => {
  await fs.rm(home, { recursive: true, force: true });
});

async function witness(
  args: string[],
  options: { stdin?: string; env?: Record<string, string> } = {},
) {
  const stdin = new PassThrough();
  stdin.end(options.stdin ?? '');
  const stdout = collectText();
  const stderr = collectText();
  const code = await runWitnessCli(args, {
    stdin,
    stdout: stdout.stream,
    stderr: stderr.stream,
    env: {
      HOME: home,
      WITNESS_HOME: configDir,
      WITNESS_CREDENTIAL_STORE: 'file',
      ...options.env,
    },
    isTTY: false,
  });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

const recordingRow: Recording = {
  sessionId: 's_1',
  userId: 'u_alice',
  username: 'alice',
  resourceId: 'r_web',
  resourceName: 'web-1',
  protocol: 'ssh',
  status: 'complete',
  startedAt: '2025-06-01T12:00:00.000Z',
  endedAt: '2025-06-01T12:03:05.000Z',
  frames: 120,
  bytes: 5 * 1024 * 1024,
  lastCheckpointSeq: 120,
};

const checkedRow: Recording = {
  ...recordingRow,
  sessionId: 's_2',
  lastVerification: {
    status: 'verified',
    verifiedThroughSeq: 120,
    checkedAt: '2025-06-01T13:00:00.000Z',
    at: '2025-06-01T13:00:00.000Z',
    firstBadSeq: null,
  },
  differsFromSigned: [],
};

/** A row edited behind the gateway's back: its owner, status and start differ from the signed. */
const alteredRow: Recording = {
  ...checkedRow,
  sessionId: 's_3',
  userId: 'u_mallory',
  status: 'interrupted',
  startedAt: '2025-06-01T11:00:00.000Z',
  endedAt: '2025-06-01T11:03:05.000Z',
  lastVerification: {
    ...checkedRow.lastVerification!,
    status: 'failed',
    firstBadSeq: 0,
  },
  differsFromSigned: [
    { field: 'user', shown: 'u_mallory', signed: 'u_alice' },
    { field: 'status', shown: 'interrupted', signed: 'complete' },
    { field: 'startedAt', shown: '2025-06-01T11:00:00.000Z', signed: '2025-06-01T12:00:00.000Z' },
  ],
};

async function bundleBytes(recording: Uint8Array, signer: TestRecordingKey = key): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const chunk of writeBundle(recording, { publicKeyPem: signer.publicKeyPem })) {
    parts.push(chunk);
  }
  return Buffer.concat(parts);
}

async function writeFile(name: string, bytes: Uint8Array | string): Promise<string> {
  const file = path.join(home, name);
  await fs.writeFile(file, bytes);
  return file;
}

describe('witness recordings verify (offline)', () => {
  it('verifies a good bundle with --fingerprint or --key, signed in to nothing', async () => {
    const file = await writeFile('good.wbundle', await bundleBytes(buildSshRecording(key).bytes()));
    const fingerprint = publicKeyFingerprint(key.publicKeyPem);

    const byFingerprint = await witness([
      'recordings',
      'verify',
      file,
      '--fingerprint',
      fingerprint,
    ]);
    expect(byFingerprint.stderr).toBe('');
    expect(byFingerprint.code).toBe(0);
    expect(byFingerprint.stdout).toContain(`VERIFIED  ${file}\n`);
    expect(byFingerprint.stdout).toContain('  session:        ses_main\n');
    expect(byFingerprint.stdout).toContain(`  signed by:      ${key.keyId} (${fingerprint})\n`);
    expect(byFingerprint.stdout).toContain('  verified:       frames 1–12\n');

    const keyFile = await writeFile('gateway-key.pem', key.publicKeyPem);
    const byKey = await witness(['recordings', 'verify', file, '--key', keyFile]);
    expect(byKey.code).toBe(0);
    expect(byKey.stdout).toMatch(/^VERIFIED/);

    const byKeyId = await witness(['recordings', 'verify', file, '--fingerprint', key.keyId]);
    expect(byKeyId.code).toBe(0);
    // Nothing was read from or written to the config directory.
    await expect(fs.access(configDir)).rejects.toThrow();
  });

  it('fails a tampered bundle with exit 1 and names the first bad seq', async () => {
    const recording = buildSshRecording(key);
    const bundle = await bundleBytes(recording.bytes());
    const at =
      bundle.length -
      recording.bytes().length +
      recording.offsetOf(recording.indexOf('frame', 6)) +
      5 +
      20;
    bundle.writeUInt8(bundle.readUInt8(at) ^ 0x01, at);
    const file = await writeFile('tampered.wbundle', bundle);

    const result = await witness(['recordings', 'verify', file, '--fingerprint', key.keyId]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`FAILED  ${file}\n`);
    expect(result.stdout).toContain('  first bad seq:  6\n');
    expect(result.stdout).toContain('  verified:       frames 1–4\n');
    expect(result.stderr).toBe(
      `witness: ${file} failed verification at seq 6: frame 6 was altered: its hash does not match the chain\n`,
    );

    const json = await witness([
      'recordings',
      'verify',
      file,
      '--fingerprint',
      key.keyId,
      '--json',
    ]);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ status: 'failed', firstBadSeq: 6 });
  });

  it('fails with exit 1 at seq 8 when a frame is dropped before a checkpoint', async () => {
    const recording = buildSshRecording(key);
    const records = recording.records.filter((r) => !(r.type === 'frame' && r.seq === 8));
    const file = await writeFile('dropped.wbundle', await bundleBytes(recording.bytes(records)));
    const result = await witness(['recordings', 'verify', file, '--fingerprint', key.keyId]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /failed verification at seq 8: checkpoint at seq 8 covers frames/,
    );
  });

  it('passes an interrupted recording with exit 0 and a warning line', async () => {
    const file = await writeFile(
      'interrupted.wbundle',
      await bundleBytes(buildSshRecording(key, { final: false }).bytes()),
    );
    const result = await witness(['recordings', 'verify', file, '--fingerprint', key.keyId]);
    expect(result.code).toBe(0);
    // A bundle without the gateway's signed statement cannot prove nothing was cut off.
    expect(result.stdout).toContain(`PARTIAL (interrupted, or cut: cannot tell)  ${file}\n`);
    expect(result.stdout).toContain('cannot tell whether the tail is missing');
    expect(result.stdout).toContain('first unverified seq 9');
    expect(result.stderr).toBe(
      'warning: the recording was interrupted — only frames 1–8 are verified; frames 9–12 are not.\n',
    );
  });

  it('refuses a bundle signed by a key other than the trusted fingerprint', async () => {
    const file = await writeFile(
      'foreign.wbundle',
      await bundleBytes(buildSshRecording(otherKey).bytes(), otherKey),
    );
    const result = await witness([
      'recordings',
      'verify',
      file,
      '--fingerprint',
      publicKeyFingerprint(key.publicKeyPem),
    ]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('  first bad seq:  0\n');
    expect(result.stderr).toMatch(/does not match the fingerprint you trust/);
  });

  it('verifies a bare recording with --key, and explains why a fingerprint is not enough', async () => {
    const file = await writeFile('raw.wrec', buildSshRecording(key).bytes());
    const keyFile = await writeFile('gateway-key.pem', key.publicKeyPem);
    expect((await witness(['recordings', 'verify', file, '--key', keyFile])).code).toBe(0);
    const fingerprintOnly = await witness([
      'recordings',
      'verify',
      file,
      '--fingerprint',
      key.keyId,
    ]);
    expect(fingerprintOnly.code).toBe(2);
    expect(fingerprintOnly.stderr).toMatch(
      /bare recording, which carries no key: verify it with --key/,
    );
  });

  it('is a usage error without a key, with a malformed fingerprint, or with both options', async () => {
    const file = await writeFile('good.wbundle', await bundleBytes(buildSshRecording(key).bytes()));
    const none = await witness(['recordings', 'verify', file]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^witness: Say which key to trust: --key FILE .* or --fingerprint/);
    const bad = await witness(['recordings', 'verify', file, '--fingerprint', 'AB:CD']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/not a recording key fingerprint/);
    const both = await witness([
      'recordings',
      'verify',
      file,
      '--key',
      file,
      '--fingerprint',
      key.keyId,
    ]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/cannot be used with option '--fingerprint/);
  });

  it('says when the file or the key cannot be read', async () => {
    const missing = await witness([
      'recordings',
      'verify',
      path.join(home, 'nope'),
      '--fingerprint',
      key.keyId,
    ]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^witness: cannot read .*nope: ENOENT/);
    const file = await writeFile('good.wbundle', await bundleBytes(buildSshRecording(key).bytes()));
    const notAKey = await writeFile('key.pem', 'hello');
    const result = await witness(['recordings', 'verify', file, '--key', notAKey]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/key\.pem: The recording key is not a PEM public key/);
  });
});

// ---------------------------------------------------------------------------------------------

describe('witness recordings list/export (signed in)', () => {
  let gateway: FakeGateway;

  beforeEach(async () => {
    gateway = await startFakeGateway(pki);
    const login = await witness(
      ['login', gateway.url, '-u', 'alice', '--password-stdin', '--fingerprint', pki.caFingerprint],
      { stdin: 'alice-password-1' },
    );
    expect(login.code).toBe(0);
  });

  afterEach(async () => {
    await gateway.close();
  });

  it('lists recordings as a table or JSON, passing the filters', async () => {
    let query = '';
    gateway.override('GET /v1/recordings', (req, res) => {
      query = new URL(req.url ?? '', 'https://x').search;
      sendJson(res, 200, { recordings: [recordingRow, checkedRow, alteredRow] });
    });
    const table = await witness([
      'recordings',
      'list',
      '--user',
      'alice',
      '--user-id',
      'u_alice',
      '--status',
      'complete',
    ]);
    expect(table.code).toBe(0);
    expect(query).toBe('?username=alice&userId=u_alice&status=complete');
    expect(table.stdout.split('\n')).toEqual([
      'SESSION  USER    RESOURCE  PROTOCOL  STATUS        STARTED                DURATION  SIZE     VERIFICATION',
      's_1      alice   web-1     ssh       complete      2025-06-01T12:00:00Z   3m05s     5.0 MiB  not checked',
      's_2      alice   web-1     ssh       complete      2025-06-01T12:00:00Z   3m05s     5.0 MiB  verified, checked 2025-06-01T13:00:00Z',
      's_3      alice!  web-1     ssh       interrupted!  2025-06-01T11:00:00Z!  3m05s     5.0 MiB  FAILED (row altered), checked 2025-06-01T13:00:00Z',
      '! s_3: the gateway\'s user is "u_mallory", but the signed recording says "u_alice"',
      '! s_3: the gateway\'s status is "interrupted", but the signed recording says "complete"',
      '! s_3: the gateway\'s start is "2025-06-01T11:00:00.000Z", but the signed recording says "2025-06-01T12:00:00.000Z"',
      '',
    ]);
    const json = await witness(['recordings', 'list', '--json']);
    expect(JSON.parse(json.stdout)).toEqual({
      recordings: [recordingRow, checkedRow, alteredRow],
    });
    const bad = await witness(['recordings', 'list', '--status', 'weird']);
    expect(bad.code).toBe(2);
  });

  it('streams a bundle bigger than any JSON answer to a file that then verifies', async () => {
    // 20 MiB: past the client's 16 MiB cap on buffered answers, so it must be streamed.
    const big = new RecordingBuilder('s_1', key);
    const mib = Buffer.alloc(1024 * 1024, 0x61);
    for (let i = 0; i < 20; i++) big.frame('o', 1, mib);
    big.checkpoint({ final: true });
    const bundle = await bundleBytes(big.bytes());
    let attempts = 0;
    gateway.override('GET /v1/recordings/s_1/export', (req, res) => {
      attempts += 1;
      // The first attempt finds the access token expired: the client refreshes and retries.
      if (attempts === 1) {
        sendError(res, 401, { code: 'token_expired', message: 'the access token expired' });
        return;
      }
      expect(new URL(req.url ?? '', 'https://x').searchParams.get('format')).toBe('bundle');
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      writeSlowly(res, bundle);
    });
    const exported = await witness([
      'recordings',
      'export',
      's_1',
      '--format',
      'bundle',
      '-o',
      path.join(home, 'out.wbundle'),
    ]);
    expect(exported.stderr).toMatch(
      /Check it offline: witness recordings verify .*out\.wbundle --fingerprint/,
    );
    expect(exported.code).toBe(0);
    expect(exported.stdout).toBe(`Saved ${path.join(home, 'out.wbundle')} (20.0 MiB).\n`);
    expect(attempts).toBe(2);
    expect(gateway.requests.some((r) => r.path === '/v1/auth/refresh')).toBe(true);
    expect((await fs.readFile(path.join(home, 'out.wbundle'))).equals(bundle)).toBe(true);

    const verified = await witness([
      'recordings',
      'verify',
      path.join(home, 'out.wbundle'),
      '--fingerprint',
      key.keyId,
    ]);
    expect(verified.code).toBe(0);
    expect(verified.stdout).toContain('  frames:         20\n');
  });

  it('names the key that signed the bundle in its hint, also an earlier one after a rotation (issue #17)', async () => {
    const bundle = await bundleBytes(buildSshRecording(key).bytes());
    gateway.override('GET /v1/recordings/s_1/export', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(bundle);
    });
    // The gateway now signs with otherKey; key signed this recording before the rotation.
    gateway.override('GET /v1/keys', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          caFingerprint: pki.caFingerprint,
          caPem: pki.caPem,
          recordingKey: { algorithm: 'ed25519', ...pick(otherKey) },
          sshHostKey: null,
          earlierRecordingKeys: [{ algorithm: 'ed25519', ...pick(key) }],
        }),
      );
    });
    const output = path.join(home, 'old.wbundle');
    const exported = await witness([
      'recordings',
      'export',
      's_1',
      '--format',
      'bundle',
      '-o',
      output,
    ]);
    expect(exported.code, exported.stderr).toBe(0);
    const fingerprint = publicKeyFingerprint(key.publicKeyPem);
    expect(exported.stderr).toContain(`--fingerprint ${fingerprint}`);
    const verified = await witness(['recordings', 'verify', output, '--fingerprint', fingerprint]);
    expect(verified.code, verified.stderr).toBe(0);
  });

  it('writes a .cast under the default name, and refuses to overwrite it without --force', async () => {
    const cast = '{"version":2,"width":80,"height":24,"timestamp":1}\n[0.1,"o","hi\\r\\n"]\n';
    let channel: string | null = null;
    gateway.override('GET /v1/recordings/s_1/export', (req, res) => {
      channel = new URL(req.url ?? '', 'https://x').searchParams.get('channel');
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(cast);
    });
    const cwd = process.cwd();
    process.chdir(home);
    try {
      const first = await witness([
        'recordings',
        'export',
        's_1',
        '--format',
        'cast',
        '--channel',
        '3',
      ]);
      expect(first.code).toBe(0);
      expect(channel).toBe('3');
      expect(await fs.readFile(path.join(home, 's_1.cast'), 'utf8')).toBe(cast);
      const again = await witness(['recordings', 'export', 's_1', '--format', 'cast']);
      expect(again.code).toBe(1);
      expect(again.stderr).toBe(
        'witness: s_1.cast exists; pass --force to replace it, or -o another file.\n',
      );
      const forced = await witness(['recordings', 'export', 's_1', '--format', 'cast', '--force']);
      expect(forced.code).toBe(0);
      const toStdout = await witness([
        'recordings',
        'export',
        's_1',
        '--format',
        'cast',
        '-o',
        '-',
      ]);
      expect(toStdout.stdout).toBe(cast);
    } finally {
      process.chdir(cwd);
    }
  });

  it('asks for typed input only with --include-input, and warns that it may hold secrets', async () => {
    const queries: string[] = [];
    gateway.override('GET /v1/recordings/s_1/export', (req, res) => {
      queries.push(new URL(req.url ?? '', 'https://x').search);
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('{"version":2,"width":80,"height":24,"timestamp":1}\n');
    });
    const plain = await witness(['recordings', 'export', 's_1', '--format', 'cast', '-o', '-']);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stderr).toBe('');
    const withInput = await witness([
      'recordings',
      'export',
      's_1',
      '--format',
      'cast',
      '--include-input',
      '-o',
      '-',
    ]);
    expect(withInput.code, withInput.stderr).toBe(0);
    expect(withInput.stderr).toMatch(/^witness: warning: .*typed input.*may contain secrets/);
    expect(queries).toEqual(['?format=cast', '?format=cast&includeInput=1']);
    const usage = await witness([
      'recordings',
      'export',
      's_1',
      '--format',
      'bundle',
      '--include-input',
    ]);
    expect(usage.code).toBe(2);
    expect(queries).toHaveLength(2);
  });

  it("reports the gateway's refusal and leaves no file behind", async () => {
    gateway.override('GET /v1/recordings/s_9/export', (_req, res) =>
      sendError(res, 404, {
        code: 'not_found',
        message: 'There is no recording of session s_9 you can see.',
      }),
    );
    const out = path.join(home, 's_9.wbundle');
    const result = await witness(['recordings', 'export', 's_9', '--format', 'bundle', '-o', out]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('witness: There is no recording of session s_9 you can see.\n');
    expect(await fs.readdir(home)).not.toContain('s_9.wbundle');
    const usage = await witness([
      'recordings',
      'export',
      's_1',
      '--format',
      'bundle',
      '--channel',
      '1',
    ]);
    expect(usage.code).toBe(2);
    const noFormat = await witness(['recordings', 'export', 's_1']);
    expect(noFormat.code).toBe(2);
    expect(noFormat.stderr).toMatch(/--format <format>' not specified/);
  });

  it('leaves no file behind when the download is cut off', async () => {
    gateway.override('GET /v1/recordings/s_1/export', (_req, res) => {
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': '1000000',
      });
      res.write(Buffer.alloc(1000));
      setTimeout(() => res.destroy(), 50);
    });
    const out = path.join(home, 'cut.wbundle');
    const result = await witness(['recordings', 'export', 's_1', '--format', 'bundle', '-o', out]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^witness: the export of s_1 did not complete .*nothing was saved/,
    );
    expect((await fs.readdir(home)).filter((name) => name.includes('cut'))).toEqual([]);
  });
});

describe('GatewayClient recording calls', () => {
  it('reads metadata, and streams the raw recording into the verifier as it downloads', async () => {
    const gateway = await startFakeGateway(pki);
    let tokens: { accessToken: string; refreshToken: string } | null = null;
    const client = new GatewayClient(
      { baseUrl: gateway.url, caPem: pki.caPem },
      {
        tokens: () => tokens,
        tokensRefreshed: (pair) => {
          tokens = pair;
        },
      },
    );
    try {
      tokens = await client.login({ username: 'alice', password: 'alice-password-1' });
      const verification = {
        status: 'verified' as const,
        verifiedThroughSeq: 12,
        firstBadSeq: null,
        message: 'verified',
      };
      gateway.override('GET /v1/recordings/s_1', (_req, res) =>
        sendJson(res, 200, { ...recordingRow, verification }),
      );
      const bytes = buildSshRecording(key, { sessionId: 's_1' }).bytes();
      gateway.override('GET /v1/recordings/s_1/stream', (_req, res) => {
        res.writeHead(200, {
          'content-type': 'application/octet-stream',
          'content-length': bytes.length,
        });
        writeSlowly(res, bytes);
      });
      expect(await client.getRecording('s_1')).toEqual({ ...recordingRow, verification });
      const download = await client.downloadRecording('s_1');
      expect(download).toMatchObject({
        contentType: 'application/octet-stream',
        contentLength: bytes.length,
      });
      const report = await verifyRecording(download.body, {
        publicKeyPem: key.publicKeyPem,
        expectedSessionId: 's_1',
      });
      expect(report).toMatchObject({ status: 'verified', frames: 12 });
      // Only s_1 is overridden: the fake answers any other recording with its 501.
      await expect(client.downloadRecording('s_404')).rejects.toMatchObject({
        status: 501,
        message: expect.stringMatching(/does not implement streamRecording/),
      });
    } finally {
      client.close();
      await gateway.close();
    }
  });
});

describe('witness recordings export: a gateway that stalls', () => {
  it('gives up after the timeout without bytes, and saves nothing', async () => {
    const gateway = await startFakeGateway(pki);
    try {
      const login = await witness(
        [
          'login',
          gateway.url,
          '-u',
          'alice',
          '--password-stdin',
          '--fingerprint',
          pki.caFingerprint,
        ],
        { stdin: 'alice-password-1' },
      );
      expect(login.code).toBe(0);
      gateway.override('GET /v1/recordings/s_1/export', (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.write(Buffer.alloc(100)); // then nothing, connection open
      });
      const out = path.join(home, 'stalled.wbundle');
      const started = Date.now();
      const result = await witness(
        ['recordings', 'export', 's_1', '--format', 'bundle', '-o', out],
        {
          env: { WITNESS_TIMEOUT_MS: '400' },
        },
      );
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(
        /stopped sending GET \/v1\/recordings\/s_1\/export\?format=bundle for 0\.4 s/,
      );
      expect(Date.now() - started).toBeLessThan(5000);
      expect((await fs.readdir(home)).filter((name) => name.includes('stalled'))).toEqual([]);
    } finally {
      await gateway.close();
    }
  });
});

/** Writes in 64 KiB pieces, honouring back-pressure, as a real streaming route does. */
function writeSlowly(res: ServerResponse, bytes: Buffer): void {
  let at = 0;
  const next = () => {
    while (at < bytes.length) {
      const piece = bytes.subarray(at, at + 65536);
      at += piece.length;
      if (!res.write(piece)) {
        res.once('drain', next);
        return;
      }
    }
    res.end();
  };
  next();
}

function pick(signer: TestRecordingKey): { keyId: string; publicKeyPem: string } {
  return { keyId: signer.keyId, publicKeyPem: signer.publicKeyPem };
}
