/**
 * The key that seals the cluster's identity in the database (issue #17). Each replica is given
 * it from outside — a file (`--sealing-key-file`, e.g. a mounted secret) or the environment
 * (`WITNESS_SEALING_KEY`) — and it is never written to the database, so a copy of the
 * database (a backup, a replica's disk) opens none of the keys stored in it.
 */
import { readFileSync } from 'node:fs';
import { decodeMasterKey } from './dataDir.ts';

export interface SealingKeySources {
  file?: string | undefined;
  /** `WITNESS_SEALING_KEY`. */
  env?: string | undefined;
}

const HOW_TO =
  'pass --sealing-key-file FILE or set WITNESS_SEALING_KEY to base64 of 32 random bytes (`openssl rand -base64 32`); every replica needs the same key, kept outside the database';

/** The sealing key, or an error that says how to give one; the file wins over the variable. */
export function readSealingKey(sources: SealingKeySources): Buffer {
  if (sources.file !== undefined) {
    let text: string;
    try {
      text = readFileSync(sources.file, 'utf8');
    } catch (error) {
      throw new Error(
        `Cannot read the sealing key file ${sources.file}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    return decodeMasterKey(text, `The sealing key file ${sources.file}`);
  }
  if (sources.env !== undefined && sources.env.trim() !== '') {
    return decodeMasterKey(sources.env, 'WITNESS_SEALING_KEY');
  }
  throw new Error(
    `--database-url needs a sealing key for the identity the replicas share: ${HOW_TO}.`,
  );
}
