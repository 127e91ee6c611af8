/**
 * The settings panel's sections, in the order the navigation shows them. Adding a page is one
 * entry here: an id, its label, the navigation group it sits in, who may see it, and its
 * component (which receives `SettingsPageProps`). Who may see it only shapes the navigation —
 * every call a page makes is checked by the gateway again.
 *
 * The Resources, Policies and Audit pages are built on their own branches; their entries go
 * in the places marked below (Resources after Groups; Policies and Audit under Governance).
 */
import type { ComponentType } from 'react';
import { GrantsPage } from './grants/GrantsPage.tsx';
import { GroupsPage } from './groups/GroupsPage.tsx';
import { RequestsPage } from './requests/RequestsPage.tsx';
import { LiveSessionsPage } from './sessions/LiveSessionsPage.tsx';
import type { SettingsPageProps } from './settingsPage.ts';
import { UsersPage } from './users/UsersPage.tsx';
import { everyone, isAdmin, type Viewer } from './viewer.ts';

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
  // Resources (branch resources): { id: 'resources', label: 'Resources', group: 'Access', … ResourcesPage }
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
  // Policies (branch resources): { id: 'policies', label: 'Policies', group: 'Governance', … PoliciesPage }
  // Audit (branch audit): { id: 'audit', label: 'Audit', group: 'Governance', … AuditPage }
];

export function sectionsFor(viewer: Viewer, sections = settingsSections): SettingsSection[] {
  return sections.filter((s) => s.visibleTo(viewer));
}
