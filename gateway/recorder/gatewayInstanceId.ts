/**
 * A stable id for this gateway instance, kept in its data directory. Recordings carry the id
 * of the instance writing them, so that at startup an instance marks as interrupted only the
 * recordings *it* left unfinished — never those of another replica sharing the PostgreSQL
 * database, which may still be live. Replicas therefore need data directories of their own
 * (a copied data directory would share the id).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const INSTANCE_ID_FILE = 'gateway-instance-id';
const INSTANCE_ID = /^gwi_[0-9a-f]{32}$/;

export function loadOrCreateGatewayInstanceId(dataDir: string): string {
  const path = join(dataDir, INSTANCE_ID_FILE);
  try {
    // 'wx': the first start creates it; a concurrent or later start reads what is there.
    const id = `gwi_${randomBytes(16).toString('hex')}`;
    writeFileSync(path, `${id}\n`, { mode: 0o600, flag: 'wx' });
    return id;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const id = readFileSync(path, 'utf8').trim();
  if (!INSTANCE_ID.test(id)) {
    throw new Error(
      `${path} does not hold a gateway instance id. Restore it from a backup, or delete it to start as a new instance (unfinished recordings of the old id are then never marked interrupted).`,
    );
  }
  return id;
}
