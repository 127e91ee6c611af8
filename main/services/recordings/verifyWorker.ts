/**
 * Worker thread entry: verifies and indexes recording downloads off the main thread, so a
 * first open overlaps receiving (TLS, HTTP) with hashing and parsing instead of doing both in
 * turn. The protocol is in verifyWorkerProtocol.ts; the main side is backgroundVerifier.ts.
 *
 * Each job is a RecordingVerifier feeding an IndexBuilder, exactly as recordingCache.ts runs
 * them in-thread; chunks arrive in order. The first chunk that fails verification is reported
 * at once, so the download stops without waiting for the rest.
 */
import { parentPort } from 'node:worker_threads';
import { RecordingVerifier } from '../../../gateway-client/recording/verifyRecording.ts';
import { IndexBuilder } from './recordingIndex.ts';
import type { FromVerifyWorker, ToVerifyWorker } from './verifyWorkerProtocol.ts';

interface Job {
  verifier: RecordingVerifier;
  indexer: IndexBuilder;
  failedEarly: boolean;
}

const port = parentPort;
if (port === null) throw new Error('verifyWorker.ts runs as a worker thread');
const jobs = new Map<number, Job>();
const send = (message: FromVerifyWorker) => port.postMessage(message);

port.on('message', (message: ToVerifyWorker) => {
  try {
    handle(message);
  } catch (error) {
    jobs.delete(message.job);
    send({ type: 'error', job: message.job, message: String(error) });
  }
});

function handle(message: ToVerifyWorker): void {
  if (message.type === 'start') {
    const indexer = new IndexBuilder(0, Number.MAX_SAFE_INTEGER);
    const verifier = new RecordingVerifier({
      publicKeyPem: message.publicKeyPem,
      expectedSessionId: message.sessionId,
      onHeader: (header) => {
        indexer.header = header;
      },
      onEvent: (event, recordOffset) => {
        indexer.frame(event, recordOffset);
      },
    });
    jobs.set(message.job, { verifier, indexer, failedEarly: false });
    return;
  }
  const job = jobs.get(message.job);
  if (job === undefined) return; // cancelled, or failed already
  if (message.type === 'chunk') {
    if (!job.failedEarly && !job.verifier.push(new Uint8Array(message.chunk))) {
      job.failedEarly = true;
      send({ type: 'failed', job: message.job });
    }
    send({ type: 'verified', job: message.job, bytes: message.chunk.byteLength });
  } else if (message.type === 'finish') {
    jobs.delete(message.job);
    const report = job.verifier.finish();
    // The index is only used for a verified recording (then every frame is covered).
    const index = report.status === 'verified' ? job.indexer.finish() : null;
    send({ type: 'done', job: message.job, report, index });
  } else {
    jobs.delete(message.job);
  }
}
