/** Who is looking at the settings: decides which sections show (the gateway enforces anyway). */
export type Role = 'admin' | 'auditor' | 'engineer';

export interface Viewer {
  username: string;
  role: Role;
}

export const isAdmin = (viewer: Viewer) => viewer.role === 'admin';
/** Admins and auditors: the gateway lets both read the audit log. */
export const readsAudit = (viewer: Viewer) => viewer.role === 'admin' || viewer.role === 'auditor';
/** Everyone: their own requests; approvers (any role) also their queue. */
export const everyone = (_viewer: Viewer) => true;
