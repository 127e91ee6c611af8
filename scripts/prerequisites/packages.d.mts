// Types for packages.mjs, which runs under plain node before npm has installed anything.
import type { Prerequisite } from './plan.mjs';
export const TEST_PREREQUISITES: (Prerequisite & { why: string })[];
