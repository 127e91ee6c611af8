/** Roles in words, for the header and the status bar (issue #15: "admin · Administrator"). */
import type { AppState } from '../../../main/ipc/contract.ts';

type Role = NonNullable<AppState['account']>['role'];

const ROLE_NAMES: Record<Role, string> = {
  admin: 'Administrator',
  auditor: 'Auditor',
  engineer: 'Engineer',
};

export function roleName(role: Role): string {
  return ROLE_NAMES[role];
}

/** "admin · Administrator": who is signed in, then what they may do. */
export function accountLine(account: NonNullable<AppState['account']>): string {
  return `${account.username} · ${roleName(account.role)}`;
}
