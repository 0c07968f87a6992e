import { createHmac, timingSafeEqual } from 'node:crypto';
import { agentApiPrefix, type DoorbellAddress } from '../protocol/agent.ts';
import type { Doorbell, DoorbellWaiting } from './port.ts';
import { doorbellSettings } from './settings.ts';

/** The path of `berth up`'s signed doorbell addresses (AWS hands out presigned SQS URLs instead). */
export const signedDoorbellPath = `${agentApiPrefix}/doorbell/signed`;

/**
 * The in-process doorbell of `berth up`. A ring is remembered until the instance's next wait
 * takes it, so a ring that lands between two long-polls is not lost. Like the SQS queues on AWS it
 * is told when an instance's doorbell is created and deleted (registration, deregistration), so a
 * long-poll needs no read of the table: a deleted one is refused.
 */
export class LocalDoorbell implements Doorbell, DoorbellWaiting {
  private readonly rung = new Set<string>();
  private readonly deleted = new Set<string>();
  private readonly waiters = new Map<string, Set<(rung: boolean) => void>>();
  rings = 0;
  /** The long-poll is answered in-process, by this object. */
  readonly waiting: DoorbellWaiting = this;
  private readonly addressKey: Buffer | string;
  private readonly nowMs: () => number;

  /**
   * @param addressKey signs doorbell addresses; derived from the admin secret, so addresses
   *   survive a restart and hold on every process sharing the data dir's keys.
   * @param nowMs the clock addresses expire by.
   */
  constructor(addressKey: Buffer | string, nowMs: () => number = Date.now) {
    this.addressKey = addressKey;
    this.nowMs = nowMs;
  }

  private signature(instanceId: string, expires: string, wait: string): string {
    return createHmac('sha256', this.addressKey).update(`${instanceId}\n${expires}\n${wait}`).digest('hex');
  }

  /**
   * The stand-in for AWS's presigned ReceiveMessage: a URL on this server naming one instance's
   * doorbell, signed so it needs no token, valid for as long as an SQS address would be.
   */
  async address(instanceId: string): Promise<DoorbellAddress> {
    const validForSeconds = doorbellSettings.addressValidSeconds;
    const expires = String(Math.floor(this.nowMs() / 1000) + validForSeconds);
    const wait = String(doorbellSettings.waitSeconds);
    const query = new URLSearchParams({
      instance: instanceId,
      expires,
      wait,
      signature: this.signature(instanceId, expires, wait),
    });
    return { url: `${signedDoorbellPath}?${query}`, validForSeconds };
  }

  /** The instance a signed address names, or why it is refused (bad signature, expired). */
  instanceOfAddress(query: URLSearchParams): { instanceId: string; wait: number } | { refused: string } {
    const instanceId = query.get('instance') ?? '';
    const expires = query.get('expires') ?? '';
    const wait = query.get('wait') ?? '';
    const given = Buffer.from(query.get('signature') ?? '', 'utf8');
    const expected = Buffer.from(this.signature(instanceId, expires, wait), 'utf8');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return { refused: 'The doorbell address is not signed by this control plane.' };
    }
    if (!(Number(expires) * 1000 > this.nowMs())) return { refused: 'The doorbell address has expired.' };
    return { instanceId, wait: Math.min(doorbellSettings.waitSeconds, Math.max(0, Number(wait) || 0)) };
  }

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
