import type { Sealer } from '../auth/seal.ts';
import type { ActionContext } from '../ecs/context.ts';
import { BerthError } from '../errors.ts';

/** The data dir's sealing key: only `berth up` serves the local AWS services, and always has one. */
export const sealerOf = (context: ActionContext): Sealer => {
  if (!context.sealer) {
    throw new BerthError('InternalServerError', 'internal', 'This control plane has no sealing key.');
  }
  return context.sealer;
};
