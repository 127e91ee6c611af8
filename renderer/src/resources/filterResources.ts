/**
 * The resource list's search and filters. Pure, so the rules (what the search box matches, how
 * label filters combine) are tested without a browser.
 */
import type { ResourceSummary } from '../../../main/ipc/contract.ts';

export type KindFilter = 'all' | ResourceSummary['kind'];

export interface ResourceFilter {
  /** Free text: matches name, description, kind and any label key or value (case-insensitive). */
  search: string;
  kind: KindFilter;
  /** `key=value`, or '' for any label. */
  label: string;
}

export const NO_FILTER: ResourceFilter = { search: '', kind: 'all', label: '' };

export function filterResources(
  resources: readonly ResourceSummary[],
  filter: ResourceFilter,
): ResourceSummary[] {
  // Every word must match somewhere, so "prod db" finds "prod-db" tagged env=prod.
  const words = filter.search.toLowerCase().split(/\s+/).filter(Boolean);
  const label = parseLabelFilter(filter.label);
  return resources
    .filter((r) => filter.kind === 'all' || r.kind === filter.kind)
    .filter((r) => label === null || r.labels[label.key] === label.value)
    .filter((r) => {
      if (words.length === 0) return true;
      const haystack = [
        r.name,
        r.description,
        r.kind,
        ...Object.entries(r.labels).map(([k, v]) => `${k}=${v}`),
      ]
        .join(' ')
        .toLowerCase();
      return words.every((word) => haystack.includes(word));
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** Every distinct `key=value` among the resources, sorted, for the label filter's options. */
export function labelOptions(resources: readonly ResourceSummary[]): string[] {
  const options = new Set<string>();
  for (const r of resources) {
    for (const [key, value] of Object.entries(r.labels)) options.add(`${key}=${value}`);
  }
  return [...options].sort((a, b) => a.localeCompare(b));
}

function parseLabelFilter(label: string): { key: string; value: string } | null {
  const at = label.indexOf('=');
  if (at <= 0) return null;
  return { key: label.slice(0, at), value: label.slice(at + 1) };
}
