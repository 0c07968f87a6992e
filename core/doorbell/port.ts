import type { DoorbellAddress } from '../protocol/agent.ts';

/**
 * An instance's doorbell, whatever rings it: one SQS queue per instance on AWS (`sqs.ts`), a set
 * of in-process waiters on `berth up` (`in-process.ts`). Whoever changes an instance's assignments
 * rings it; registration creates it and deregistration deletes it; every sync answer hands out its
 * address, where the agent long-polls (docs/doorbell.md).
 */
export type Doorbell = {
  /** Tells the instance's agent to sync. Never throws: a lost ring costs latency, not correctness. */
  ring: (instanceId: string) => Promise<void>;
  /** At registration, before the instance exists; idempotent. Throws on failure. */
  create: (instanceId: string) => Promise<void>;
  /** After deregistration committed; its waiters are let go. Never throws. */
  delete: (instanceId: string) => Promise<void>;
  /** Where the agent long-polls: a presigned SQS ReceiveMessage, or a signed path on `berth up`. */
  address: (instanceId: string) => Promise<DoorbellAddress>;
  /**
   * The waiting side, where Berth itself answers the long-poll (`berth up`). On AWS the long-poll
   * goes to SQS through API Gateway and never reaches a handler, so this is absent.
   */
  waiting?: DoorbellWaiting;
};

/** The long-poll, served in-process. */
export type DoorbellWaiting = {
  /** Resolves true when rung, false after `seconds` (or when the doorbell is deleted). */
  wait: (instanceId: string, seconds: number) => Promise<boolean>;
  /** Whether the instance's doorbell was deleted (deregistration): its polls are refused. */
  isDeleted: (instanceId: string) => boolean;
  /** A signed address (GET /agent/v1/doorbell/signed): the instance it names, or why not. */
  instanceOfAddress: (query: URLSearchParams) => { instanceId: string; wait: number } | { refused: string };
};
