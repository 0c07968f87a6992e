import { type DbPlugin, writeCommands } from '../../core/db/client.ts';

/** Capacity consumed, as DynamoDB reports it (ReturnConsumedCapacity), by kind of call. */
export type Meter = {
  readUnits: number;
  writeUnits: number;
  calls: Record<string, number>;
  /** Milliseconds spent waiting for each kind of call (client side: queueing included). */
  ms: Record<string, number>;
  reset: () => void;
};

type Capacity = { ReadCapacityUnits?: number; WriteCapacityUnits?: number; CapacityUnits?: number };

export const newMeter = (): Meter => {
  const meter: Meter = {
    readUnits: 0,
    writeUnits: 0,
    calls: {},
    ms: {},
    reset: () => {
      meter.readUnits = 0;
      meter.writeUnits = 0;
      meter.calls = {};
      meter.ms = {};
    },
  };
  return meter;
};

/**
 * Asks DynamoDB for the capacity of every call and adds it up in `meter` (benchmarks, and tests
 * that count writes): a plugin for `createDb`'s `plugins` (`startBerth({ meter: true })` adds it).
 */
export const dbMeterPlugin = (meter: Meter): DbPlugin => ({
  applyToStack: (stack) => {
    stack.add(
      (next, context) => async (args) => {
        const input = args.input as { ReturnConsumedCapacity?: string };
        input.ReturnConsumedCapacity ??= 'TOTAL';
        const started = performance.now();
        const result = await next(args);
        const name = context.commandName ?? 'unknown';
        meter.calls[name] = (meter.calls[name] ?? 0) + 1;
        meter.ms[name] = (meter.ms[name] ?? 0) + (performance.now() - started);
        const consumed = (result.output as { ConsumedCapacity?: Capacity | Capacity[] }).ConsumedCapacity;
        for (const capacity of Array.isArray(consumed) ? consumed : consumed ? [consumed] : []) {
          // DynamoDB Local answers CapacityUnits only; a write call's units are write units.
          const units = capacity.CapacityUnits ?? 0;
          if (writeCommands.has(name)) meter.writeUnits += capacity.WriteCapacityUnits ?? units;
          else meter.readUnits += capacity.ReadCapacityUnits ?? units;
        }
        return result;
      },
      { step: 'initialize', name: 'berthCapacityMeter' },
    );
  },
});
