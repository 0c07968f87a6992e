import type { DoorbellWaiter } from '../core/ecs/agent-endpoint.ts';
import type { Doorbell } from '../core/reconcile/apply.ts';

/**
 * The in-process doorbell of `berth up`. A ring is remembered until the instance's next wait
 * takes it, so a ring that lands between two long-polls is not lost.
 */
export class LocalDoorbell implements Doorbell, DoorbellWaiter {
  private readonly rung = new Set<string>();
  private readonly waiters = new Map<string, Set<(rung: boolean) => void>>();
  rings = 0;

  async ring(instanceId: string): Promise<void> {
    this.rings += 1;
    const waiting = this.waiters.get(instanceId);
    if (waiting && waiting.size > 0) {
      this.waiters.delete(instanceId);
      for (const wake of waiting) wake(true);
      return;
    }
    this.rung.add(instanceId);
  }

  wait(instanceId: string, seconds: number): Promise<boolean> {
    if (this.rung.delete(instanceId)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiting = this.waiters.get(instanceId) ?? new Set();
      const wake = (rung: boolean) => {
        clearTimeout(timer);
        resolve(rung);
      };
      const timer = setTimeout(() => {
        waiting.delete(wake);
        resolve(false);
      }, seconds * 1000);
      timer.unref();
      waiting.add(wake);
      this.waiters.set(instanceId, waiting);
    });
  }

  /** Wakes every waiter (shutdown): agents simply poll again. */
  close(): void {
    for (const waiting of this.waiters.values()) for (const wake of waiting) wake(false);
    this.waiters.clear();
  }
}
