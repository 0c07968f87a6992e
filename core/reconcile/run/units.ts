import type { ReconcileUnit } from '../../db/keys.ts';
import {
  combineOutcomes,
  type ReconcileDeps,
  type ReconcileOutcome,
  reconcileServiceUnit,
  settleInstance,
} from './apply.ts';

export type { ReconcileUnit };

export const unitId = (unit: ReconcileUnit): string =>
  unit.kind === 'service'
    ? `service/${unit.cluster}/${unit.service}`
    : unit.kind === 'instance'
      ? `instance/${unit.cluster}/${unit.instanceId}`
      : 'none';

/**
 * Reconciles each distinct unit of a batch once, however many of its records the batch holds, and
 * each service once however many of the batch's instances name it: every reconcile starts after
 * the batch was read, so it sees every change in it. Returns a function giving each record's
 * outcome (so a failure is reported per record).
 */
export const batchReconciler = (
  deps: ReconcileDeps,
  onRecheck?: (unit: ReconcileUnit, at: string) => void,
) => {
  const running = new Map<string, Promise<ReconcileOutcome>>();
  const once = (unit: ReconcileUnit, run: () => Promise<ReconcileOutcome>): Promise<ReconcileOutcome> => {
    const id = unitId(unit);
    let outcome = running.get(id);
    if (!outcome) {
      outcome = run().then((result) => {
        if (result.recheckAt) onRecheck?.(unit, result.recheckAt);
        return result;
      });
      running.set(id, outcome);
    }
    return outcome;
  };
  const service = (cluster: string, name: string) =>
    once({ kind: 'service', cluster, service: name }, () => reconcileServiceUnit(deps, cluster, name));
  return (unit: ReconcileUnit): Promise<ReconcileOutcome> => {
    switch (unit.kind) {
      case 'service':
        return service(unit.cluster, unit.service);
      case 'instance':
        return once(unit, async () => {
          const settled = await settleInstance(deps, unit.cluster, unit.instanceId);
          const outcomes = await Promise.all(settled.services.map((name) => service(unit.cluster, name)));
          // The services' own rechecks are scheduled under their own units.
          return { wrote: combineOutcomes(outcomes, settled.wrote).wrote };
        });
      case 'none':
        return Promise.resolve({ wrote: false });
    }
  };
};

/** Reconciles one unit on its own (a timed recheck): a batch of one. */
export const reconcileUnit = (
  deps: ReconcileDeps,
  unit: ReconcileUnit,
  onRecheck?: (unit: ReconcileUnit, at: string) => void,
): Promise<ReconcileOutcome> => batchReconciler(deps, onRecheck)(unit);
