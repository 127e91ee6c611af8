/**
 * The grant form's values as typed, the checks made as you type, and the request they become.
 * Pure: the rules are tested here, the form only draws them.
 */
import type { CallRequest, PanelGrant } from '../../../../main/ipc/contract.ts';
import {
  formatDuration,
  fromLocalInput,
  parseDuration,
  toLocalInput,
} from '../components/timeText.ts';

export interface GrantFormValues {
  subjectKind: 'user' | 'group';
  userId: string;
  group: string;
  resourceId: string;
  mode: 'standing' | 'approval';
  /** datetime-local values ('' = open). */
  validFrom: string;
  validUntil: string;
  /** As typed: `1h`, `30m`. */
  maxSession: string;
  approverUsers: string[];
  approverGroups: string;
  approvalsRequired: string;
  description: string;
}

export type GrantField = keyof GrantFormValues;

export const emptyGrantForm: GrantFormValues = {
  subjectKind: 'group',
  userId: '',
  group: '',
  resourceId: '',
  mode: 'approval',
  validFrom: '',
  validUntil: '',
  maxSession: '1h',
  approverUsers: [],
  approverGroups: '',
  approvalsRequired: '1',
  description: '',
};

const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const MAX_SESSION_SECONDS = 24 * 3600;

export function groupsOf(text: string): string[] {
  return [...new Set(text.split(/[\s,]+/).filter(Boolean))];
}

/** Each field's problem with the current values; an empty object means it may be sent. */
export function grantFormProblems(
  values: GrantFormValues,
  editing: boolean,
): Partial<Record<GrantField, string>> {
  const problems: Partial<Record<GrantField, string>> = {};
  if (!editing) {
    if (values.subjectKind === 'user' && !values.userId)
      problems.userId = 'Choose who the grant is for.';
    if (values.subjectKind === 'group' && !NAME.test(values.group)) {
      problems.group = values.group
        ? 'Not a group name (lower-case letters, digits, . _ -).'
        : 'Name a group.';
    }
    if (!values.resourceId) problems.resourceId = 'Choose a resource.';
  }
  const from = fromLocalInput(values.validFrom);
  const until = fromLocalInput(values.validUntil);
  if (from && until && from >= until) problems.validUntil = 'The end must be after the start.';
  const seconds = parseDuration(values.maxSession);
  if (seconds === null) problems.maxSession = 'A duration such as 30m, 1h or 8h.';
  else if (seconds < 60 || seconds > MAX_SESSION_SECONDS)
    problems.maxSession = 'Between 1m and 24h.';
  if (values.mode === 'approval') {
    const bad = groupsOf(values.approverGroups).filter((g) => !NAME.test(g));
    if (bad.length > 0) problems.approverGroups = `Not a group name: ${bad.join(', ')}.`;
    const count = Number(values.approvalsRequired);
    if (!Number.isInteger(count) || count < 1 || count > 10) {
      problems.approvalsRequired = 'A whole number from 1 to 10.';
    }
  }
  return problems;
}

/** The shared fields of create and update. */
function fields(values: GrantFormValues) {
  const approval = values.mode === 'approval';
  return {
    mode: values.mode,
    validFrom: fromLocalInput(values.validFrom),
    validUntil: fromLocalInput(values.validUntil),
    maxSessionSeconds: parseDuration(values.maxSession) ?? 3600,
    description: values.description.trim(),
    approvers: approval
      ? { users: values.approverUsers, groups: groupsOf(values.approverGroups) }
      : { users: [], groups: [] },
    approvalsRequired: approval ? Number(values.approvalsRequired) : 1,
  };
}

export function toCreateRequest(values: GrantFormValues): CallRequest<'grants.create'> {
  return {
    subject:
      values.subjectKind === 'user'
        ? { kind: 'user', userId: values.userId }
        : { kind: 'group', group: values.group },
    target: { kind: 'resource', resourceId: values.resourceId },
    ...fields(values),
  };
}

export function toUpdateRequest(
  grantId: string,
  values: GrantFormValues,
): CallRequest<'grants.update'> {
  return { grantId, ...fields(values) };
}

export function formFromGrant(grant: PanelGrant): GrantFormValues {
  return {
    subjectKind: grant.subject.kind,
    userId: grant.subject.kind === 'user' ? grant.subject.userId : '',
    group: grant.subject.kind === 'group' ? grant.subject.group : '',
    resourceId: grant.target.kind === 'resource' ? grant.target.resourceId : '',
    mode: grant.mode,
    validFrom: toLocalInput(grant.validFrom),
    validUntil: toLocalInput(grant.validUntil),
    maxSession: formatDuration(grant.maxSessionSeconds),
    approverUsers: grant.approvers.users,
    approverGroups: grant.approvers.groups.join(', '),
    approvalsRequired: String(grant.approvalsRequired),
    description: grant.description,
  };
}

/** Within this of its end, a grant is listed as "expiring soon". */
export const EXPIRING_SOON_MS = 7 * 24 * 3600 * 1000;

export function isExpiringSoon(grant: Pick<PanelGrant, 'validUntil'>, now: number): boolean {
  if (!grant.validUntil) return false;
  const end = Date.parse(grant.validUntil);
  return end > now && end - now <= EXPIRING_SOON_MS;
}

export function hasEnded(grant: Pick<PanelGrant, 'validUntil'>, now: number): boolean {
  return grant.validUntil !== null && Date.parse(grant.validUntil) <= now;
}
