/**
 * The doorbell on AWS, as plain data: one SQS queue per container instance, rung with SendMessage
 * by whoever changed the instance's assignments, and long-polled by its agent through an API
 * Gateway -> SQS ReceiveMessage integration, so no Lambda runs while an agent waits
 * (docs/doorbell.md). infra/ builds the queue policy, the integration and the authorizer from
 * these values; core/doorbell/sqs.ts creates, deletes and rings the queues.
 */
export const doorbellSettings = {
  /** The long-poll: SQS's maximum wait, and the `wait` the agent asks for. */
  waitSeconds: 20,
  /** One receive takes every ring waiting: they all mean the same thing ("sync"). */
  maxMessages: 10,
  /**
   * SQS's minimum retention. A ring nobody takes within a minute is moot: an agent that was away
   * that long syncs when it comes back, and a connected one syncs at least every heartbeat.
   */
  messageRetentionSeconds: 60,
  /**
   * Nothing deletes a ring (the integration only receives), so a received ring must stay hidden
   * until it expires: with visibility >= retention each ring is delivered once.
   */
  visibilityTimeoutSeconds: 60,
  /** HTTP API's longest integration timeout; the long-poll must end well inside it. */
  integrationTimeoutMs: 30_000,
  /**
   * How long API Gateway keeps the authorizer's answer for a token (HTTP API allows 0..3600). The
   * longest is safe: a deregistered instance's queue is deleted, so a cached answer leads nowhere.
   */
  authorizerCacheSeconds: 3600,
  /**
   * How long a doorbell address (a presigned ReceiveMessage the sync hands out) stays good. Every
   * sync, at least one a heartbeat, brings a fresh one, so a quarter of an hour leaves room for
   * missed heartbeats while a leaked address soon stops working. The agent stops using an address
   * a minute before this runs out.
   */
  addressValidSeconds: 900,
} as const;

/** The key under which the authorizer hands the queue URL to the integration. */
export const doorbellContextKey = 'queueUrl';

/** SQS queue names: 1..80 of [A-Za-z0-9_-]. */
const queueNamePattern = /^[A-Za-z0-9_-]{1,80}$/;
/** Instance ids are 32 hex digits, so a prefix may take the other 48 characters. */
export const maxQueuePrefixLength = 48;

/** Every queue of a stage starts with this, so one IAM resource pattern covers them all. */
export const doorbellQueuePrefix = (app: string, stage: string): string => {
  const prefix = `${app}-${stage}-bell-`.replace(/[^A-Za-z0-9_-]/g, '-');
  if (prefix.length > maxQueuePrefixLength) {
    throw new Error(`Doorbell queue prefix ${prefix} is longer than ${maxQueuePrefixLength} characters.`);
  }
  return prefix;
};

export const doorbellQueueName = (prefix: string, instanceId: string): string => {
  const name = `${prefix}${instanceId}`;
  if (!queueNamePattern.test(name)) throw new Error(`Invalid doorbell queue name ${name}.`);
  return name;
};

export type DoorbellLocation = { region: string; accountId: string; prefix: string };

/**
 * The queue's URL, derived rather than stored: the authorizer needs no GetQueueUrl call, and the
 * token item needs no extra attribute.
 */
export const doorbellQueueUrl = (where: DoorbellLocation, instanceId: string): string =>
  `https://sqs.${where.region}.amazonaws.com/${where.accountId}/${doorbellQueueName(where.prefix, instanceId)}`;

/** The IAM resource covering every doorbell queue of a stage. */
export const doorbellQueueArnPattern = (where: DoorbellLocation): string =>
  `arn:aws:sqs:${where.region}:${where.accountId}:${where.prefix}*`;

/** CreateQueue attributes (SQS takes them as strings). */
export const doorbellQueueAttributes = {
  MessageRetentionPeriod: String(doorbellSettings.messageRetentionSeconds),
  VisibilityTimeout: String(doorbellSettings.visibilityTimeoutSeconds),
  ReceiveMessageWaitTimeSeconds: String(doorbellSettings.waitSeconds),
  SqsManagedSseEnabled: 'true',
} as const;

/**
 * The query-protocol ReceiveMessage a doorbell address asks for (SQS's GET form): every parameter is
 * part of the signature, so the address's holder can change neither the queue nor the action.
 */
export const doorbellAddressQuery = {
  Action: 'ReceiveMessage',
  Version: '2012-11-05',
  WaitTimeSeconds: String(doorbellSettings.waitSeconds),
  MaxNumberOfMessages: String(doorbellSettings.maxMessages),
} as const;

/** The ReceiveMessage parameters the HTTP API integration sends (static values or mappings). */
export const doorbellReceiveParameters = {
  QueueUrl: `$context.authorizer.${doorbellContextKey}`,
  WaitTimeSeconds: String(doorbellSettings.waitSeconds),
  MaxNumberOfMessages: String(doorbellSettings.maxMessages),
} as const;
