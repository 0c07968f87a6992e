import type { DynamoDBRecord } from 'aws-lambda';
import { itemOfStreamImage } from '../../db/items.ts';
import { type ReconcileUnit, unitOfKey } from '../../db/keys.ts';

/**
 * The unit a changed item belongs to, from its keys alone: the reconciler never trusts a stream
 * image as the truth and never branches on INSERT/MODIFY/REMOVE — it re-reads the unit.
 */
export const unitOfStreamKeys = (
  keys: { pk?: { S?: string }; sk?: { S?: string } } | undefined,
): ReconcileUnit => unitOfKey(keys?.pk?.S ?? '', keys?.sk?.S ?? '');

// Every task the reconciler places also updates its instance (capacity claimed, assignment version
// bumped), and that update comes back through the stream as an instance change. Reconciling it
// would re-read the instance, its tasks and the cluster's services for nothing: taking capacity can
// never make a waiting task placeable. Such records are recognised from their own old and new images
// — a judgement about that one change, not a reading of the current state, which the reconciler
// always takes from the table — and skipped.

type Plain = Record<string, unknown>;

/** Fields a claim (or a stop's assignment bump) may change, and how each may move. */
const claimRules: Record<string, (before: unknown, after: unknown) => boolean> = {
  assignmentVersion: () => true,
  updatedAt: () => true,
  liveTasksCount: (before, after) => Number(after) >= Number(before),
  remaining: (before, after) => {
    const old = (before ?? {}) as Plain;
    const now = (after ?? {}) as Plain;
    const fields = new Set([...Object.keys(old), ...Object.keys(now)]);
    return [...fields].every((field) => Number(now[field]) <= Number(old[field]));
  },
  groups: (before, after) => {
    const old = (before ?? {}) as Plain;
    const now = (after ?? {}) as Plain;
    return Object.entries(old).every(([group, count]) => Number(now[group] ?? 0) >= Number(count));
  },
  liveTaskRefs: (before, after) => isSubset(before, after),
  usedPorts: (before, after) => isSubset(before, after),
  usedPortsUdp: (before, after) => isSubset(before, after),
};

const isSubset = (before: unknown, after: unknown): boolean => {
  const old = before instanceof Set ? before : new Set();
  const now = after instanceof Set ? after : new Set();
  return [...old].every((value) => now.has(value));
};

const sameValue = (a: unknown, b: unknown): boolean => {
  if (a instanceof Set && b instanceof Set) return a.size === b.size && [...a].every((v) => b.has(v));
  return JSON.stringify(a) === JSON.stringify(b);
};

/**
 * Whether a stream record is an instance change that only took capacity (or bumped the assignment
 * version): then no service can have become placeable through it. Anything else — a record without
 * both images, a status, connection or attribute change, capacity given back — answers false.
 */
export const onlyClaimsCapacity = (record: DynamoDBRecord): boolean => {
  const change = record.dynamodb;
  if (record.eventName !== 'MODIFY' || !change?.OldImage || !change.NewImage) return false;
  if (unitOfStreamKeys(change.Keys as Parameters<typeof unitOfStreamKeys>[0]).kind !== 'instance')
    return false;
  let before: Plain | undefined;
  let after: Plain | undefined;
  try {
    before = itemOfStreamImage(change.OldImage);
    after = itemOfStreamImage(change.NewImage);
  } catch {
    // An image we cannot read proves nothing: reconcile as for any other change.
    return false;
  }
  if (!before || !after) return false;
  const fields = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...fields].every((field) => {
    if (sameValue(before[field], after[field])) return true;
    const rule = claimRules[field];
    return rule ? rule(before[field], after[field]) : false;
  });
};
