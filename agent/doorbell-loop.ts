import type { DoorbellAddress } from '../core/protocol/agent.ts';
import { type BackoffSettings, retryDelay, sleep } from './backoff.ts';
import { AgentApiError, type ApiClient, DoorbellAddressError } from './client.ts';
import type { Logger } from './log.ts';

/** A doorbell address is dropped this long before the host said it expires (clock skew, slow answers). */
const addressMarginMs = 60_000;
/** After a doorbell address could not be reached, or failed twice running: the API route this long. */
const addressPauseMs = 10 * 60_000;

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

export type DoorbellLoopDeps = {
  /** The API client, once the agent has an identity. */
  client: () => ApiClient | undefined;
  log: Logger;
  /** Aborted when the agent stops. */
  signal: AbortSignal;
  backoff: BackoffSettings;
  random: () => number;
  /** Seconds one long-poll waits (the server caps it at 20). */
  waitSeconds: number;
  /** Settles once the first sync was tried: the first long-poll waits for it (and its address). */
  firstSync: Promise<void>;
  /** The next sync should happen (rung, or a ring may have been missed). */
  wantSync: () => void;
  /** Wakes the sync loop now. */
  wake: () => void;
  /** What the API route says of the link to the control plane. */
  setOnline: (online: boolean, why?: string) => void;
};

/**
 * The doorbell long-poll (docs/doorbell.md): waits at the address the last sync answer carried (on
 * AWS a presigned SQS ReceiveMessage), else through the agent API, and asks for a sync when rung or
 * when it cannot tell (after failures). It never syncs itself: the sync loop does.
 */
export class DoorbellLoop {
  /** The doorbell address of the last sync answer, used until `until` (performance.now() ms). */
  private doorbellAddress?: { url: string; until: number };
  private addressFailures = 0;
  private addressPausedUntil = 0;

  private readonly deps: DoorbellLoopDeps;

  constructor(deps: DoorbellLoopDeps) {
    this.deps = deps;
  }

  /** The doorbell address a sync answer carried: polled until shortly before it expires. */
  useAddress(doorbell: DoorbellAddress): void {
    this.doorbellAddress = {
      url: doorbell.url,
      until: performance.now() + doorbell.validForSeconds * 1000 - addressMarginMs,
    };
  }

  /** The doorbell address to poll now, if there is a fresh one and addresses are not paused. */
  private usableDoorbellAddress(): string | undefined {
    const now = performance.now();
    const address = this.doorbellAddress;
    if (!address || now >= address.until || now < this.addressPausedUntil) return undefined;
    return address.url;
  }

  /**
   * A doorbell address failed: drop it (the next sync brings a fresh one) and, when the address's
   * host cannot be reached (a firewall that lets only the control plane through) or addresses
   * keep failing, use the API route for a while.
   */
  private addressFailed(error: unknown): void {
    this.doorbellAddress = undefined;
    this.addressFailures += 1;
    const pause = this.addressFailures >= 2 || !(error instanceof DoorbellAddressError);
    if (pause) this.addressPausedUntil = performance.now() + addressPauseMs;
    this.deps.log.warn('doorbell address failed; polling through the agent API', {
      error: messageOf(error),
      ...(pause ? { forMinutes: addressPauseMs / 60_000 } : {}),
    });
  }

  /** Polls until the signal aborts. */
  async run(): Promise<void> {
    const { log, signal } = this.deps;
    let failures = 0;
    const wait = this.deps.waitSeconds;
    // The agent syncs as it starts anyway; a poll begun before that sync answers would be redundant,
    // and would go through the API route for want of the address the answer brings.
    await this.deps.firstSync;
    while (!signal.aborted) {
      const address = this.usableDoorbellAddress();
      try {
        const doorbell = address
          ? await this.deps.client()?.doorbellAt(address, wait, signal)
          : await this.deps.client()?.doorbell(wait, signal);
        log.debug('doorbell', { doorbell, direct: address !== undefined });
        // Back after failures: a ring may have been missed meanwhile, so sync now either way.
        const recovered = failures > 0;
        failures = 0;
        // Only the API route says the control plane is reachable; the address may be another host.
        if (address) this.addressFailures = 0;
        else this.deps.setOnline(true);
        if (doorbell !== 'quiet' || recovered) {
          this.deps.wantSync();
          this.deps.wake();
        }
      } catch (error) {
        if (signal.aborted) break;
        // A ring may have been missed while the link was down.
        this.deps.wantSync();
        if (address) {
          // Poll again at once, through the API route; the sync it asks for brings a fresh address.
          this.addressFailed(error);
          this.deps.wake();
          continue;
        }
        failures += 1;
        if (error instanceof AgentApiError) {
          log.error('doorbell refused', {
            status: error.status,
            code: error.code,
            error: error.message,
          });
        } else {
          this.deps.setOnline(false, messageOf(error));
        }
        await sleep(retryDelay(error, failures, this.deps.backoff, this.deps.random), signal);
      }
    }
  }
}
