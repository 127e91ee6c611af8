/**
 * Worker thread entry: verifies and indexes recording downloads off the main thread, so a
 * first open overlaps receiving (TLS, HTTP) with hashing and parsing instead of doing both in
 * turn. The protocol is in verifyWorkerProtocol.ts; the main side is backgroundVerifier.ts.
 *
 * Each job is the same single pass the main thread would run (`verifyInThread`); chunks arrive
 * in order. The first chunk that fails verification is reported at once, so the download stops
 * without waiting for the rest.
 */
import { parentPort } from 'node:worker_threads';
import { type InThreadVerificationJob, verifyInThread } from './verificationJob.ts';
import type { FromVerifyWorker, ToVerifyWorker } from './verifyWorkerProtocol.ts';

interface Job {
  pass: InThreadVerificationJob;
  failedEarly: boolean;
}

const port = parentPort;
if (port === null) throw new Error('verifyWorker.ts runs as a worker thread');
const jobs = new Map<number, Job>();
const send = (message: FromVerifyWorker, transfer: ArrayBuffer[] = []) =>
  port.postMessage(message, transfer);

port.on('message', (message: ToVerifyWorker) => {
  handle(message).catch((error: unknown) => {
    jobs.delete(message.job);
    send({ type: 'error', job: message.job, message: String(error) });
  });
});

async function handle(message: ToVerifyWorker): Promise<void> {
  if (message.type === 'start') {
    const pass = verifyInThread(message.publicKeyPem, message.sessionId);
    jobs.set(message.job, { pass, failedEarly: false });
    return;
  }
  const job = jobs.get(message.job);
  if (job === undefined) return; // cancelled, or failed already
  if (message.type === 'chunk') {
    if (!job.failedEarly && !job.pass.push(new Uint8Array(message.chunk, 0, message.bytes))) {
      job.failedEarly = true;
      send({ type: 'failed', job: message.job });
    }
    // The buffer goes back to be filled again: nothing here may point into it any more.
    job.pass.releaseInput();
    const { chunk, bytes } = message;
    send({ type: 'verified', job: message.job, bytes, chunk }, [chunk]);
  } else if (message.type === 'finish') {
    jobs.delete(message.job);
    const { report, index } = await job.pass.finish();
    send({ type: 'done', job: message.job, report, index });
  } else {
    jobs.delete(message.job);
  }
}
