/**
 * Catalog and grants: the resources people may reach (with their encrypted target secrets and
 * database policy) and the grants that say who may reach which. Secrets arrive encrypted
 * (secrets/secretBox.ts); the store never sees them in the clear.
 */

/**
 * Masking and guardrail rules as stored (JSON). The same shape as the API's DatabasePolicy,
 * which validates them before they get here; the store keeps its own type so it does not
 * depend on the wire schemas (store.types.test.ts pins that the two stay interchangeable).
 */
export interface StoredDatabasePolicy {
  masking: StoredMaskingRule[];
  guardrails: StoredGuardrailRule[];
  /** Absent on policies stored before issue #13: those read as 'basic'. */
  maskingMode?: 'strict' | 'basic' | undefined;
  allowedFunctions?: string[] | undefined;
}

export interface StoredMaskingRule {
  name: string;
  match:
    | { kind: 'column'; pattern: string }
    | { kind: 'type'; types: string[] }
    | { kind: 'preset'; preset: 'email' | 'card' | 'phone' }
    | { kind: 'value'; pattern: string };
  style: 'full' | 'partial';
}

export type StoredGuardrailRule =
  | {
      kind: 'statement';
      name: string;
      classes: (
        | 'drop'
        | 'truncate'
        | 'alter'
        | 'delete_without_where'
        | 'update_without_where'
        | 'merge_modify'
        | 'copy_from'
        | 'call'
        | 'do'
        | 'create_function'
        | 'create_trigger'
        | 'create_rule'
      )[];
    }
  | { kind: 'regex'; name: string; pattern: string };

export type ResourceKind = 'ssh' | 'postgres';

export interface ResourceRecord {
  id: string;
  name: string;
  description: string;
  /** Resource kind, duplicated out of `target` so it can be filtered on. */
  kind: ResourceKind;
  labels: Record<string, string>;
  /** The API's target object (host, port, username, …) as stored JSON. */
  target: Record<string, unknown>;
  /** Encrypted credential blob (secrets/secretBox.ts), or null when none is stored. */
  secretCiphertext: string | null;
  /** Which credential fields the blob holds, so the API can say so without decrypting. */
  secretFields: string[];
  /** Masking and guardrails for database sessions on this resource. */
  policy: StoredDatabasePolicy;
  createdAt: number;
  updatedAt: number;
}

export type ResourcePatch = Partial<
  Pick<
    ResourceRecord,
    | 'name'
    | 'description'
    | 'kind'
    | 'labels'
    | 'target'
    | 'secretCiphertext'
    | 'secretFields'
    | 'policy'
  >
> & { updatedAt: number };

export interface GrantRecord {
  id: string;
  subjectKind: 'user' | 'group';
  /** User id or group name. */
  subject: string;
  targetKind: 'resource' | 'labels';
  /** Resource id for targetKind 'resource'. */
  resourceId: string | null;
  /** Label selector for targetKind 'labels'. */
  selector: Record<string, string> | null;
  mode: 'standing' | 'approval';
  validFrom: number | null;
  validUntil: number | null;
  maxSessionSeconds: number;
  description: string;
  /** Masking and guardrails added for sessions under this grant. */
  policy: StoredDatabasePolicy;
  createdBy: string;
  createdAt: number;
  /** Who may approve requests under an approval-required grant: user ids and group names. */
  approvers: GrantApprovers;
  /** How many distinct approvers must approve a request (issue #14). */
  approvalsRequired: number;
  /** The access request a time-boxed grant was issued for; null for grants an admin wrote. */
  requestId: string | null;
}

export interface GrantApprovers {
  users: string[];
  groups: string[];
}

export type GrantPatch = Partial<
  Pick<
    GrantRecord,
    | 'mode'
    | 'validFrom'
    | 'validUntil'
    | 'maxSessionSeconds'
    | 'description'
    | 'policy'
    | 'approvers'
    | 'approvalsRequired'
  >
>;

export interface ResourceStore {
  createResource(resource: ResourceRecord): Promise<void>;
  getResource(id: string): Promise<ResourceRecord | undefined>;
  getResourceByName(name: string): Promise<ResourceRecord | undefined>;
  listResources(): Promise<ResourceRecord[]>;
  updateResource(id: string, patch: ResourcePatch): Promise<ResourceRecord | undefined>;
  /** Deletes the resource and the grants that target it; false when there was no such resource. */
  deleteResource(id: string): Promise<boolean>;
}

export interface GrantStore {
  createGrant(grant: GrantRecord): Promise<void>;
  getGrant(id: string): Promise<GrantRecord | undefined>;
  listGrants(): Promise<GrantRecord[]>;
  updateGrant(id: string, patch: GrantPatch): Promise<GrantRecord | undefined>;
  deleteGrant(id: string): Promise<boolean>;
}

/** One aggregate: a grant that targets a resource lives and dies with it. */
export interface CatalogStore extends ResourceStore, GrantStore {}
