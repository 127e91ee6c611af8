/**
 * The badge a verified recording shows (issue #5): verified / partial: verified to seq N /
 * failed at seq N. Partial is an interrupted recording whose chain holds up to a checkpoint —
 * not a failure, but not the whole session either, so it gets its own tone.
 */
import type { CallResponse } from '../../../main/ipc/contract.ts';

export type RecordingVerdict = CallResponse<'recordings.verify'>;

export function verdictLabel(verdict: RecordingVerdict): {
  text: string;
  tone: 'ok' | 'warn' | 'bad';
} {
  switch (verdict.status) {
    case 'verified':
      return { text: 'Verified', tone: 'ok' };
    case 'partial':
      return { text: `Partial: verified to seq ${verdict.verifiedThroughSeq}`, tone: 'warn' };
    case 'failed':
      return {
        text:
          verdict.firstBadSeq === null
            ? 'Failed verification'
            : `Failed at seq ${verdict.firstBadSeq}`,
        tone: 'bad',
      };
  }
}

/** "12.3 KiB" for the recordings panel. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}
