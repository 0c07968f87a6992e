/** The sweeper's timings, apart from the sweeper so that clients (berth status) can state them. */
export type SweepSettings = {
  /** An agent silent this long is disconnected (DESIGN: three heartbeats). */
  graceSeconds: number;
  /** A task not RUNNING this long after it was placed is stopped as failed to start. */
  pendingTimeoutSeconds: number;
};

export const defaultSweepSettings: SweepSettings = { graceSeconds: 180, pendingTimeoutSeconds: 900 };
