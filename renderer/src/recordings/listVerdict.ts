/**
 * What a row of the recordings list says about its recording's integrity (issue #12): the
 * gateway's last verdict with when it was made — a verdict is only as good as its age — and
 * which of the values shown the signed recording contradicts.
 */
import type { CallResponse } from '../../../main/ipc/contract.ts';

export type RecordingSummary = CallResponse<'recordings.list'>['recordings'][number];
export type DifferingField = NonNullable<RecordingSummary['differsFromSigned']>[number]['field'];

export interface ListVerdictLabel {
  text: string;
  tone: 'ok' | 'warn' | 'bad' | 'none';
  /** The longer story, for the badge's tooltip and accessible description. */
  detail: string;
}

export function listVerdictLabel(
  recording: Pick<RecordingSummary, 'lastVerification' | 'differsFromSigned'>,
  formatTime: (iso: string) => string = (iso) => new Date(iso).toLocaleString(),
): ListVerdictLabel {
  const verdict = recording.lastVerification;
  if (!verdict) {
    return {
      text: 'Not verified yet',
      tone: 'none',
      detail: 'The gateway has not verified this recording yet; open it to verify it here.',
    };
  }
  const checked = `checked ${formatTime(verdict.checkedAt ?? verdict.at)}`;
  const why = verdict.message ? ` ${verdict.message}.` : '';
  switch (verdict.status) {
    case 'verified':
      return {
        text: `Verified · ${checked}`,
        tone: 'ok',
        detail: `Every frame was covered by a valid signature when the gateway ${checked}.`,
      };
    case 'partial':
      return {
        text: `Partial to seq ${verdict.verifiedThroughSeq} · ${checked}`,
        tone: 'warn',
        detail: `Verified up to seq ${verdict.verifiedThroughSeq} when the gateway ${checked}.${why}`,
      };
    case 'failed': {
      const altered = (recording.differsFromSigned?.length ?? 0) > 0 || verdict.firstBadSeq === 0;
      const where =
        verdict.firstBadSeq === null || verdict.firstBadSeq === undefined
          ? 'Failed verification'
          : altered
            ? 'Failed: record altered'
            : `Failed at seq ${verdict.firstBadSeq}`;
      return {
        text: `${where} · ${checked}`,
        tone: 'bad',
        detail: `The recording failed verification when the gateway ${checked}.${why}`,
      };
    }
  }
}

const FIELD_WORDS: Record<DifferingField, string> = {
  user: 'user',
  resource: 'resource',
  protocol: 'protocol',
  startedAt: 'start time',
  endedAt: 'end time',
  status: 'status',
};

/**
 * For a value the signed recording contradicts, the warning to show beside it; null when the
 * value agrees (or nothing signed was compared).
 */
export function differenceWarning(
  recording: Pick<RecordingSummary, 'differsFromSigned'>,
  field: DifferingField,
): string | null {
  const difference = recording.differsFromSigned?.find((d) => d.field === field);
  if (!difference) return null;
  return `The gateway's ${FIELD_WORDS[field]} is "${difference.shown}", but the signed recording says "${difference.signed}".`;
}
