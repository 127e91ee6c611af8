import type { Resource } from '../../shared/api/apiSchemas.ts';
import type { ResourceSummary } from '../ipc/contract.ts';

/**
 * The renderer's view of a resource: name, kind, labels, access and when the grant ends.
 * Deliberately field by field — the target's host, user and credential flags stay in main.
 */
export function toResourceSummary(resource: Resource): ResourceSummary {
  return {
    id: resource.id,
    name: resource.name,
    description: resource.description,
    kind: resource.target.kind,
    labels: resource.labels,
    access: resource.access,
    grantExpiresAt: resource.grantExpiresAt,
  };
}
