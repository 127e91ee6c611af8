/**
 * How many statements each rule refused, per resource (issue #13): the figure an operator
 * watches to see a policy being probed. The PostgreSQL proxy counts every refusal here and
 * logs the running count with it (`refusals` on "postgres statement blocked"), as the
 * recordings check logs `recordingProblems`; the running gateway keeps one per process.
 */
export interface RefusalCount {
  resource: string;
  rule: string;
  count: number;
}

export class RefusalCounts {
  /** resource name → rule name → refusals. */
  private readonly counts = new Map<string, Map<string, number>>();

  /** Counts one refusal and returns the total so far for this resource and rule. */
  count(resource: string, rule: string): number {
    let rules = this.counts.get(resource);
    if (rules === undefined) {
      rules = new Map();
      this.counts.set(resource, rules);
    }
    const total = (rules.get(rule) ?? 0) + 1;
    rules.set(rule, total);
    return total;
  }

  /** Every count so far, by resource then rule. */
  list(): RefusalCount[] {
    const all: RefusalCount[] = [];
    for (const [resource, rules] of this.counts) {
      for (const [rule, count] of rules) all.push({ resource, rule, count });
    }
    return all;
  }
}
