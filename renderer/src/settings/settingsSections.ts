/**
 * The settings panel's sections, in the order the navigation shows them. Adding a page is one
 * entry here: an id, its label, the navigation group it sits in, who may see it, and its
 * component (which receives `SettingsPageProps`). Who may see it only shapes the navigation —
 * every call a page makes is checked by the gateway again.
 */
import type { ComponentType } from 'react';
import { AuditPage } from './audit/AuditPage.tsx';
import { GrantsPage } from './grants/GrantsPage.tsx';
import { GroupsPage } from './groups/GroupsPage.tsx';
import { IdentityProvidersPage } from './identity/IdentityProvidersPage.tsx';
import { MachineIdentitiesPage } from './identity/MachineIdentitiesPage.tsx';
import { PoliciesPage } from './policies/PoliciesPage.tsx';
import { RequestsPage } from './requests/RequestsPage.tsx';
import { ResourcesPage } from './resources/ResourcesPage.tsx';
import { LiveSessionsPage } from './sessions/LiveSessionsPage.tsx';
import type { SettingsPageProps } from './settingsPage.ts';
import { UsersPage } from './users/UsersPage.tsx';
import { everyone, isAdmin, readsAudit, type Viewer } from './viewer.ts';

export type SettingsGroup = 'People' | 'Access' | 'Governance';
export const SETTINGS_GROUPS: readonly SettingsGroup[] = ['People', 'Access', 'Governance'];

export interface SettingsSection {
  id: string;
  label: string;
  group: SettingsGroup;
  /** One line under the page's title. */
  summary: string;
  visibleTo(viewer: Viewer): boolean;
  component: ComponentType<SettingsPageProps>;
}

export const settingsSections: readonly SettingsSection[] = [
  {
    id: 'users',
    label: 'Users',
    group: 'People',
    summary: 'Invite people, set their role, disable (offboard) them.',
    visibleTo: isAdmin,
    component: UsersPage,
  },
  {
    id: 'groups',
    label: 'Groups',
    group: 'People',
    summary: 'Who belongs together, for grants and approvals.',
    visibleTo: isAdmin,
    component: GroupsPage,
  },
  {
    id: 'identity-providers',
    label: 'Identity providers',
    group: 'People',
    summary:
      'OpenID Connect providers people sign in with; their groups claim sets Witness groups.',
    visibleTo: isAdmin,
    component: IdentityProvidersPage,
  },
  {
    id: 'machine-identities',
    label: 'Machine identities',
    group: 'People',
    summary: 'CI jobs that sign in with their per-job token, bound by issuer, audience and claims.',
    visibleTo: isAdmin,
    component: MachineIdentitiesPage,
  },
  {
    id: 'resources',
    label: 'Resources',
    group: 'Access',
    summary: 'SSH hosts and PostgreSQL databases: credentials, host keys, labels, test connection.',
    visibleTo: isAdmin,
    component: ResourcesPage,
  },
  {
    id: 'grants',
    label: 'Grants',
    group: 'Access',
    summary: 'Who may use which resource, when, for how long, and who approves.',
    visibleTo: isAdmin,
    component: GrantsPage,
  },
  {
    id: 'requests',
    label: 'Requests',
    group: 'Access',
    summary: 'Just-in-time access: your requests, and those waiting for your decision.',
    visibleTo: everyone,
    component: RequestsPage,
  },
  {
    id: 'live-sessions',
    label: 'Live sessions',
    group: 'Access',
    summary: 'Who is connected now; watch or terminate.',
    visibleTo: isAdmin,
    component: LiveSessionsPage,
  },
  {
    id: 'policies',
    label: 'Policies',
    group: 'Governance',
    summary: 'Masking and guardrail rules, tried against a sample before they are saved.',
    visibleTo: isAdmin,
    component: PoliciesPage,
  },
  {
    id: 'audit',
    label: 'Audit',
    group: 'Governance',
    summary: 'Every admin action and access decision, hash-chained and signed; verify or export.',
    visibleTo: readsAudit,
    component: AuditPage,
  },
];

export function sectionsFor(viewer: Viewer, sections = settingsSections): SettingsSection[] {
  return sections.filter((s) => s.visibleTo(viewer));
}
