/**
 * CatalogStore over Kysely, for SQLite and PostgreSQL alike. Structured fields (labels,
 * target, secret fields, selector, policy) are JSON text (migrations.ts says why).
 */
import type { Insertable, Kysely, Selectable, Updateable } from 'kysely';
import type {
  CatalogStore,
  GrantApprovers,
  GrantPatch,
  GrantRecord,
  ResourcePatch,
  ResourceRecord,
  StoredDatabasePolicy,
} from './catalogStore.ts';
import type { Database, GrantsTable, ResourcesTable } from './migrations.ts';
import { asConflict } from './storeConflictError.ts';
import { parseJson, type StoreConnection } from './storeConnection.ts';

export class KyselyCatalogStore implements CatalogStore {
  private readonly db: Kysely<Database>;

  constructor(connection: StoreConnection) {
    this.db = connection.db;
  }

  // -------------------------------------------------------------------------------------------
  // Resources

  async createResource(resource: ResourceRecord): Promise<void> {
    try {
      await this.db.insertInto('resources').values(resourceToRow(resource)).execute();
    } catch (error) {
      throw asConflict(error, {
        'resources.name': `a resource named "${resource.name}" already exists; choose another name`,
        'resources.id': `a resource with id ${resource.id} already exists`,
      });
    }
  }

  async getResource(id: string): Promise<ResourceRecord | undefined> {
    const row = await this.db
      .selectFrom('resources')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row && resourceFromRow(row);
  }

  async getResourceByName(name: string): Promise<ResourceRecord | undefined> {
    const row = await this.db
      .selectFrom('resources')
      .selectAll()
      .where('name', '=', name)
      .executeTakeFirst();
    return row && resourceFromRow(row);
  }

  async listResources(): Promise<ResourceRecord[]> {
    const rows = await this.db.selectFrom('resources').selectAll().orderBy('name').execute();
    return rows.map(resourceFromRow);
  }

  async updateResource(id: string, patch: ResourcePatch): Promise<ResourceRecord | undefined> {
    const set: Updateable<ResourcesTable> = { updated_at: patch.updatedAt };
    if (patch.name !== undefined) set.name = patch.name;
    if (patch.description !== undefined) set.description = patch.description;
    if (patch.kind !== undefined) set.kind = patch.kind;
    if (patch.labels !== undefined) set.labels = JSON.stringify(patch.labels);
    if (patch.target !== undefined) set.target = JSON.stringify(patch.target);
    if (patch.secretCiphertext !== undefined) set.secret_ciphertext = patch.secretCiphertext;
    if (patch.secretFields !== undefined) set.secret_fields = JSON.stringify(patch.secretFields);
    if (patch.policy !== undefined) set.policy = JSON.stringify(patch.policy);
    try {
      const row = await this.db
        .updateTable('resources')
        .set(set)
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst();
      return row && resourceFromRow(row);
    } catch (error) {
      throw asConflict(error, {
        'resources.name': `a resource named "${patch.name}" already exists; choose another name`,
      });
    }
  }

  async deleteResource(id: string): Promise<boolean> {
    // Grants that target the resource go with it; sessions stay as history. The explicit
    // delete makes this independent of foreign-key enforcement being on (SQLite's is a
    // per-connection pragma); the FK's ON DELETE CASCADE is the backstop.
    return this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('grants').where('resource_id', '=', id).execute();
      const result = await trx.deleteFrom('resources').where('id', '=', id).executeTakeFirst();
      return Number(result.numDeletedRows) === 1;
    });
  }

  // -------------------------------------------------------------------------------------------
  // Grants

  async createGrant(grant: GrantRecord): Promise<void> {
    try {
      await this.db.insertInto('grants').values(grantToRow(grant)).execute();
    } catch (error) {
      throw asConflict(error, { 'grants.id': `a grant with id ${grant.id} already exists` });
    }
  }

  async getGrant(id: string): Promise<GrantRecord | undefined> {
    const row = await this.db
      .selectFrom('grants')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row && grantFromRow(row);
  }

  async listGrants(): Promise<GrantRecord[]> {
    const rows = await this.db
      .selectFrom('grants')
      .selectAll()
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(grantFromRow);
  }

  async updateGrant(id: string, patch: GrantPatch): Promise<GrantRecord | undefined> {
    const set: Updateable<GrantsTable> = {};
    if (patch.mode !== undefined) set.mode = patch.mode;
    if (patch.validFrom !== undefined) set.valid_from = patch.validFrom;
    if (patch.validUntil !== undefined) set.valid_until = patch.validUntil;
    if (patch.maxSessionSeconds !== undefined) set.max_session_seconds = patch.maxSessionSeconds;
    if (patch.description !== undefined) set.description = patch.description;
    if (patch.policy !== undefined) set.policy = JSON.stringify(patch.policy);
    if (patch.approvers !== undefined) set.approvers = JSON.stringify(patch.approvers);
    if (patch.approvalsRequired !== undefined) set.approvals_required = patch.approvalsRequired;
    if (Object.keys(set).length === 0) return this.getGrant(id);
    const row = await this.db
      .updateTable('grants')
      .set(set)
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
    return row && grantFromRow(row);
  }

  async deleteGrant(id: string): Promise<boolean> {
    const result = await this.db.deleteFrom('grants').where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) === 1;
  }
}

// ---------------------------------------------------------------------------------------------
// Row ↔ record mapping

function resourceToRow(resource: ResourceRecord): Insertable<ResourcesTable> {
  return {
    id: resource.id,
    name: resource.name,
    description: resource.description,
    kind: resource.kind,
    labels: JSON.stringify(resource.labels),
    target: JSON.stringify(resource.target),
    secret_ciphertext: resource.secretCiphertext,
    secret_fields: JSON.stringify(resource.secretFields),
    policy: JSON.stringify(resource.policy),
    created_at: resource.createdAt,
    updated_at: resource.updatedAt,
  };
}

function resourceFromRow(row: Selectable<ResourcesTable>): ResourceRecord {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    kind: row.kind,
    labels: parseJson<Record<string, string>>(row.labels),
    target: parseJson<Record<string, unknown>>(row.target),
    secretCiphertext: row.secret_ciphertext,
    secretFields: parseJson<string[]>(row.secret_fields),
    policy: parseJson<StoredDatabasePolicy>(row.policy),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function grantToRow(grant: GrantRecord): Insertable<GrantsTable> {
  return {
    id: grant.id,
    subject_kind: grant.subjectKind,
    subject: grant.subject,
    target_kind: grant.targetKind,
    resource_id: grant.resourceId,
    selector: grant.selector === null ? null : JSON.stringify(grant.selector),
    mode: grant.mode,
    valid_from: grant.validFrom,
    valid_until: grant.validUntil,
    max_session_seconds: grant.maxSessionSeconds,
    description: grant.description,
    policy: JSON.stringify(grant.policy),
    created_by: grant.createdBy,
    created_at: grant.createdAt,
    approvers: JSON.stringify(grant.approvers),
    approvals_required: grant.approvalsRequired,
    request_id: grant.requestId,
  };
}

export function grantFromRow(row: Selectable<GrantsTable>): GrantRecord {
  return {
    id: row.id,
    subjectKind: row.subject_kind,
    subject: row.subject,
    targetKind: row.target_kind,
    resourceId: row.resource_id,
    selector: row.selector === null ? null : parseJson<Record<string, string>>(row.selector),
    mode: row.mode,
    validFrom: row.valid_from,
    validUntil: row.valid_until,
    maxSessionSeconds: row.max_session_seconds,
    description: row.description,
    policy: parseJson<StoredDatabasePolicy>(row.policy),
    createdBy: row.created_by,
    createdAt: row.created_at,
    approvers: parseJson<GrantApprovers>(row.approvers),
    approvalsRequired: row.approvals_required,
    requestId: row.request_id,
  };
}
