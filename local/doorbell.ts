import type { DoorbellWaiter } from '../core/ecs/agent-endpoint.ts';
import type { DoorbellQueues } from '../core/ecs/context.ts';
import type { Doorbell } from '../core/reconcile/apply.ts';

/**
 * The in-process doorbell of `berth up`. A ring is remembered until the instance's next wait
 * takes it, so a ring that lands between two long-polls is not lost. Like the SQS queues on AWS it
 * is told when an instance's doorbell is created and deleted (registration, deregistration), so a
 * long-poll needs no read of the table: a deleted one is refused.
 */
export class LocalDoorbell implements Doorbell, DoorbellWaiter, DoorbellQueues {
  private readonly rung = new Set<string>();
  private readonly deleted = new Set<string>();
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

  async create(instanceId: string): Promise<void> {
    this.deleted.delete(instanceId);
  }

  /** Deregistration: waiters are let go, and the instance's polls are refused from now on. */
  async delete(instanceId: string): Promise<void> {
    this.deleted.add(instanceId);
    this.rung.delete(instanceId);
    const waiting = this.waiters.get(instanceId);
    this.waiters.delete(instanceId);
    for (const wake of waiting ?? []) wake(false);
  }

  isDeleted(instanceId: string): boolean {
    return this.deleted.has(instanceId);
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
