/**
 * The desktop's audit log calls (issue #14): list a page through the gateway, verify an export
 * here in main against the pinned recording key with the shared verifier (the renderer only
 * shows the result), and save an export through the same save-dialog / downloads path the
 * recordings' exports take.
 */
import path from 'node:path';
import {
  describeAuditVerification,
  verifyAuditExport,
} from '../../../shared/recording/verifyAuditLog.ts';
import { type CallHandlers, DesktopError } from '../../ipc/contract.ts';
import type { GatewayAccount } from '../gatewayAccount.ts';
import { recordingKeysOlderThanPinned } from '../gatewayIdentity.ts';
import { DOWNLOADS_DIR, RecordingExports } from '../recordings/recordingExports.ts';

export type AuditCallName = 'audit.list' | 'audit.verify' | 'audit.export';

export interface AuditHandlerDeps {
  account: Pick<GatewayAccount, 'run' | 'pinned'>;
  appDataDir: string;
  /** Electron: a save dialog (null when cancelled). Absent in the web host. */
  chooseSaveFile?: (suggestedName: string) => Promise<string | null>;
}

/** The export's file name: `audit-log.jsonl` (RecordingExports names files `<id>.<format>`). */
const EXPORT_NAME = 'audit-log';

export function createAuditHandlers(deps: AuditHandlerDeps): Pick<CallHandlers, AuditCallName> {
  const { account } = deps;
  const exports = new RecordingExports({
    downloadsDir: path.join(deps.appDataDir, DOWNLOADS_DIR),
    ...(deps.chooseSaveFile ? { chooseSaveFile: deps.chooseSaveFile } : {}),
  });
  return {
    'audit.list': async (filters) => {
      const page = await account.run((client) => client.listAudit(filters));
      return {
        entries: page.entries.map((entry) => ({
          seq: entry.seq,
          time: entry.time,
          actorName: entry.actor?.name ?? null,
          action: entry.action,
          target: entry.target,
          outcome: entry.outcome,
          details: JSON.stringify(entry.details),
        })),
        nextCursor: page.nextCursor,
      };
    },
    'audit.verify': async () => {
      const pinned = account.pinned();
      if (!pinned) throw new DesktopError('no_gateway', 'No gateway is set up yet.');
      // Checkpoints written before a key rotation name an earlier key: trust those older than
      // the pin, as the gateway lists them over the pinned CA.
      const keys = await account.run((client) => client.keys());
      const older = recordingKeysOlderThanPinned(keys, pinned.recordingKeyId);
      const download = await account.run((client) => client.exportAudit());
      const result = await verifyAuditExport(download.body, pinned.recordingPublicKeyPem, older);
      download.body.destroy();
      return {
        ok: result.ok && result.lastCheckpointSeq === result.lastSeq,
        message: describeAuditVerification(result),
        entries: result.ok ? result.entries : result.verifiedThroughSeq,
        lastCheckpointSeq: result.ok ? result.lastCheckpointSeq : result.verifiedThroughSeq,
        firstBadSeq: result.ok ? null : result.firstBadSeq,
        recordingKeyFingerprint: pinned.recordingKeyFingerprint,
      };
    },
    'audit.export': async ({ exportId }, caller) =>
      exports.run(caller, { exportId, sessionId: EXPORT_NAME, format: 'jsonl' }, () =>
        account.run((client) => client.exportAudit()),
      ),
  };
}
