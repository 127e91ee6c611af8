/**
 * The gateway's persistence, one narrow interface per aggregate:
 * - identityStore.ts: users (groups, credentials, login throttling), enrollments, tokens;
 * - catalogStore.ts: resources (with their encrypted target secrets) and grants;
 *   accessRequestStore.ts: requests for time-boxed grants and approvers' decisions on them;
 * - sessionStore.ts: sessions and their connect tickets;
 * - recordingStore.ts: recording rows, checkpoint progress, chunks, who read which recording;
 * - recordingTextStore.ts: the search index over recordings;
 * - auditStore.ts: the audit log's chain and its signed checkpoints;
 * - oidcStore.ts: OpenID Connect providers, sign-ins under way, one-time codes (issue #18);
 * - machineIdentityStore.ts: CI jobs' identities, spent workload tokens (issue #18).
 * - clusterSecretStore.ts: the replicas' shared identity, sealed (issue #17).
 * - replicaStore.ts: replicas' leases and the sign-in limiter per address (issue #17).
 * Each has one Kysely implementation (kysely*Store.ts) over SQLite and PostgreSQL, sharing one
 * connection (storeConnection.ts) and one schema (migrations.ts). The store knows no transport
 * and no crypto: secrets arrive already encrypted, tokens and tickets already hashed.
 *
 * Every consumer takes the narrow interface it uses. `Store`, all of them together, is what
 * openStore.ts opens and what only the composition root (gateway/index.ts) and the contract
 * suites hold.
 *
 * Times are epoch milliseconds. Ids are opaque strings made by the caller (see newId.ts), so
 * the store never needs dialect-specific RETURNING tricks.
 */
import type { AccessRequestStore } from './accessRequestStore.ts';
import type { AuditStore } from './auditStore.ts';
import type { CatalogStore } from './catalogStore.ts';
import type { ClusterSecretStore } from './clusterSecretStore.ts';
import type { IdentityStore } from './identityStore.ts';
import type { MachineIdentityStore } from './machineIdentityStore.ts';
import type { OidcStore } from './oidcStore.ts';
import type { RecordingStore } from './recordingStore.ts';
import type { RecordingTextStore } from './recordingTextStore.ts';
import type { ReplicaStore } from './replicaStore.ts';
import type { SessionStore } from './sessionStore.ts';
import type { StoreHandle } from './storeConnection.ts';

export type * from './accessRequestStore.ts';
export type * from './auditStore.ts';
export type * from './catalogStore.ts';
export type * from './clusterSecretStore.ts';
export type * from './identityStore.ts';
export type * from './machineIdentityStore.ts';
export type * from './oidcStore.ts';
export type * from './recordingStore.ts';
export { recordingAccessActions } from './recordingStore.ts';
export type * from './recordingTextStore.ts';
export type * from './replicaStore.ts';
export type * from './sessionStore.ts';
export { StoreConflictError } from './storeConflictError.ts';
export type { StoreHandle, StoreKind } from './storeConnection.ts';

export type Store = StoreHandle &
  IdentityStore &
  CatalogStore &
  AccessRequestStore &
  SessionStore &
  RecordingStore &
  RecordingTextStore &
  AuditStore &
  OidcStore &
  MachineIdentityStore &
  ClusterSecretStore &
  ReplicaStore;
