import { reconcilerStreamFilters } from '../core/reconcile/run/stream-filters.ts';
import { streamSettings } from '../core/reconcile/run/stream-settings.ts';
import { deadLetters } from './dead-letters.ts';
import { reconciler } from './functions.ts';
import { table } from './table.ts';

// SST's subscribe sets the function and filters; the transform adds what SST leaves out, from
// the same settings the local stream poller uses.
export const subscription = table.subscribe('Reconciler', reconciler.arn, {
  filters: [...reconcilerStreamFilters],
  transform: {
    eventSourceMapping: (args) => {
      args.startingPosition = streamSettings.startingPosition;
      args.batchSize = streamSettings.batchSize;
      args.maximumBatchingWindowInSeconds = streamSettings.maximumBatchingWindowInSeconds;
      args.maximumRetryAttempts = streamSettings.maximumRetryAttempts;
      args.bisectBatchOnFunctionError = streamSettings.bisectBatchOnFunctionError;
      args.maximumRecordAgeInSeconds = streamSettings.maximumRecordAgeInSeconds;
      args.functionResponseTypes = [...streamSettings.functionResponseTypes];
      args.parallelizationFactor = streamSettings.parallelizationFactor;
      // Sent with the function's role, which may send to this queue (infra/functions.ts).
      args.destinationConfig = { onFailure: { destinationArn: deadLetters.arn } };
    },
  },
});
