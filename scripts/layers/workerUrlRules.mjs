/**
 * Applies the `forbidden` rules of .dependency-cruiser.cjs to worker-URL edges, which
 * dependency-cruiser cannot see (workerUrls.mjs). It understands the conditions the config
 * uses — path, pathNot, dependencyTypesNot, couldNotResolve — with dependency-cruiser's
 * meaning, and refuses a rule with any other condition, so a rule added later cannot be
 * skipped here without anyone noticing.
 */
const UNDERSTOOD = {
  rule: new Set(['name', 'severity', 'comment', 'from', 'to']),
  from: new Set(['path', 'pathNot']),
  to: new Set(['path', 'pathNot', 'dependencyTypesNot', 'couldNotResolve']),
};

function assertUnderstood(rule) {
  for (const [part, keys] of Object.entries({ rule, from: rule.from, to: rule.to })) {
    for (const key of Object.keys(keys ?? {})) {
      if (!UNDERSTOOD[part].has(key)) {
        throw new Error(
          `rule ${rule.name}: the worker-URL check does not understand ${part}.${key}; ` +
            'extend scripts/layers/workerUrlRules.mjs',
        );
      }
    }
  }
}

/** dependency-cruiser's path conditions: a regex, or an array of them meaning any. */
const matches = (pattern, value) =>
  (Array.isArray(pattern) ? pattern : [pattern]).some((p) => new RegExp(p).test(value));

function ruleMatches(rule, edge) {
  const { from = {}, to = {} } = rule;
  if (from.path !== undefined && !matches(from.path, edge.from)) return false;
  if (from.pathNot !== undefined && matches(from.pathNot, edge.from)) return false;
  if (to.path !== undefined && !matches(to.path, edge.to)) return false;
  if (to.pathNot !== undefined && matches(to.pathNot, edge.to)) return false;
  if (to.dependencyTypesNot?.some((type) => edge.dependencyTypes.includes(type))) return false;
  if (to.couldNotResolve !== undefined && to.couldNotResolve === edge.resolvable) return false;
  return true;
}

/**
 * The rule violations among `edges` ({ from, to, resolvable }), less those listed in the
 * known-violations baseline (same from, to and rule name).
 */
export function workerUrlViolations(forbidden, edges, known = []) {
  forbidden.forEach(assertUnderstood);
  const isKnown = (v) =>
    known.some((k) => k.from === v.from && k.to === v.to && k.rule?.name === v.rule);
  return edges
    .map((edge) => ({ ...edge, dependencyTypes: ['local', 'worker-url'] }))
    .flatMap((edge) =>
      forbidden
        .filter((rule) => ruleMatches(rule, edge))
        .map((rule) => ({ rule: rule.name, from: edge.from, to: edge.to, via: 'worker-url' })),
    )
    .filter((v) => !isKnown(v));
}
