/**
 * A tab's label: the resource name, or "name (n)" with the smallest n not already shown, so
 * two tabs never share a name (the tab's accessible name, which tests and screen readers use).
 */
export function tabLabel(openLabels: readonly string[], resourceName: string): string {
  const used = new Set(openLabels);
  if (!used.has(resourceName)) return resourceName;
  for (let n = 2; ; n++) {
    const label = `${resourceName} (${n})`;
    if (!used.has(label)) return label;
  }
}
