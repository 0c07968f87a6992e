import { CreateQueueCommand, DeleteQueueCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import type { Doorbell } from './port.ts';
import {
  type DoorbellLocation,
  doorbellAddressQuery,
  doorbellQueueAttributes,
  doorbellQueueName,
  doorbellQueueUrl,
  doorbellSettings,
} from './settings.ts';

/**
 * The doorbells of a stage on AWS: one SQS queue per container instance (the only place Berth
 * talks to SQS). Rung with SendMessage; created at registration (same name and attributes:
 * idempotent), deleted at deregistration; the address is a presigned ReceiveMessage on the
 * instance's queue, which the agent long-polls directly. No `waiting`: nothing of Berth's waits.
 */

export type SqsDoorbellOptions = DoorbellLocation & {
  /** An SQS-compatible endpoint (tests); absent on AWS. */
  endpoint?: string;
  /** Fixed credentials (tests); on AWS the function's role, from the environment. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Failures that are reported rather than thrown (ring, delete). */
  onError?: (error: unknown, context: { action: 'ring' | 'delete'; instanceId: string }) => void;
};

/** SQS names a missing queue QueueDoesNotExist (JSON protocol) or by its older query-protocol code. */
const isMissingQueue = (error: unknown): boolean =>
  error instanceof Error &&
  (error.name === 'QueueDoesNotExist' || error.name === 'AWS.SimpleQueueService.NonExistentQueue');

export const createSqsDoorbells = (options: SqsDoorbellOptions): Doorbell => {
  const client = new SQSClient({
    region: options.region,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
    maxAttempts: 3,
  });
  const urlOf = (instanceId: string) => doorbellQueueUrl(options, instanceId);
  // Signed with the function's own credentials, which may ReceiveMessage on the stage's queues:
  // the signature covers the queue, the action and every parameter, so the address grants exactly
  // one long-poll on one queue until it expires.
  const signer = new SignatureV4({
    service: 'sqs',
    region: options.region,
    credentials: client.config.credentials,
    sha256: Hash.bind(null, 'sha256'),
  });
  return {
    // A ring follows a committed write, so failing the caller would only make it redo work that is
    // already done (and a redone reconcile writes nothing, so it would not ring again). A lost ring
    // costs latency, not correctness: the agent syncs at least every heartbeat. A missing queue
    // means the instance was deregistered: nobody is listening.
    ring: async (instanceId) => {
      try {
        await client.send(new SendMessageCommand({ QueueUrl: urlOf(instanceId), MessageBody: 'ring' }));
      } catch (error) {
        if (!isMissingQueue(error)) options.onError?.(error, { action: 'ring', instanceId });
      }
    },
    create: async (instanceId) => {
      await client.send(
        new CreateQueueCommand({
          QueueName: doorbellQueueName(options.prefix, instanceId),
          Attributes: { ...doorbellQueueAttributes },
          tags: { 'berth:container-instance': instanceId },
        }),
      );
    },
    address: async (instanceId) => {
      // The queue's path, on SQS's host (or the test endpoint's).
      const { pathname } = new URL(urlOf(instanceId));
      const host = new URL(options.endpoint ?? urlOf(instanceId));
      const signed = await signer.presign(
        {
          method: 'GET',
          protocol: host.protocol,
          hostname: host.hostname,
          ...(host.port ? { port: Number(host.port) } : {}),
          path: pathname,
          query: { ...doorbellAddressQuery },
          headers: { host: host.host },
        },
        { expiresIn: doorbellSettings.addressValidSeconds },
      );
      const query = new URLSearchParams(signed.query as Record<string, string>);
      return {
        url: `${host.protocol}//${host.host}${pathname}?${query}`,
        validForSeconds: doorbellSettings.addressValidSeconds,
      };
    },
    // Runs after the deregistration committed. An orphaned, empty queue costs nothing (SQS bills
    // requests, not queues), so a failure is reported with the instance id for cleanup, not thrown.
    delete: async (instanceId) => {
      try {
        await client.send(new DeleteQueueCommand({ QueueUrl: urlOf(instanceId) }));
      } catch (error) {
        if (!isMissingQueue(error)) options.onError?.(error, { action: 'delete', instanceId });
      }
    },
  };
};
