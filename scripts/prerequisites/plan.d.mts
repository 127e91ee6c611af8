// Types for plan.mjs, which runs under plain node before npm has installed anything.
export interface Prerequisite {
  pkg: string;
  why?: string;
  has: { file?: string; commands?: string[] };
}
export type Plan =
  | { action: 'none' }
  | { action: 'install'; packages: string[]; commands: string[][] }
  | { action: 'instruct'; packages: string[]; command: string };
export function planPrerequisites(
  missing: { pkg: string }[],
  where: { isRoot: boolean; hasAptGet: boolean },
): Plan;
export function missingPrerequisites<P extends Prerequisite>(
  prerequisites: P[],
  probe: { fileExists: (path: string) => boolean; onPath: (command: string) => boolean },
): P[];
