import { z } from 'zod';
import { controlCharacters, replaceControlCharacters } from '../model/text.ts';
import type { AssignedTask } from './assigned-task.ts';

export type { AssignedContainer, AssignedTask, AssignedVolume } from './assigned-task.ts';

/**
 * The agent wire protocol (`/agent/v1/…`). Shared by the server (functions/) and the agent, so
 * both sides validate the same shapes. Fields may be added, never renamed.
 */
export const agentApiPrefix = '/agent/v1';

/*
 * What an agent reports ends up on operators' screens (`berth status`, the console): anyone with an
 * activation code runs an agent, so its texts are limited and hold no control characters, which a
 * terminal would obey.
 */

/** A name or identifier an agent reports: refused when it holds a control character. */
const reportedName = (min: number, max: number) =>
  z
    .string()
    .min(min)
    .max(max)
    .refine((text) => !controlCharacters.test(text), 'must not contain control characters');

/**
 * A free text an agent reports (a Docker error, a stop reason): control characters become spaces
 * rather than refusing the report, so a task's STOPPED report is never held back by its reason.
 */
const reportedText = (max: number) =>
  z
    .string()
    .max(max)
    .transform((text) => replaceControlCharacters(text, () => ' '));

/** Agent versions as releases name them: `0.1.0`, `1.2.0-rc.1+abc`. */
const agentVersionPattern = /^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$/;

export const Attribute = z.object({
  name: z.string().regex(/^[A-Za-z0-9_\-/\\.]{1,128}$/, 'must be 1-128 letters, digits, - _ / \\ or .'),
  value: reportedName(0, 128).optional(),
});

export const RegisterRequest = z.object({
  activationId: z.string().min(1).max(64),
  activationCode: z.string().min(1).max(256),
  cluster: z.string().min(1).max(2048).optional(),
  hostname: reportedName(1, 255),
  agentVersion: z.string().regex(agentVersionPattern, 'must be 1-64 letters, digits, . + _ or -'),
  resources: z.object({
    /** CPU units: cores × 1024. */
    cpu: z.number().int().min(1).max(1_048_576),
    /** MiB. */
    memory: z.number().int().min(1).max(268_435_456),
  }),
  attributes: z.array(Attribute).max(100).optional(),
  /** Host ports the agent will not hand out; ECS's defaults when absent. */
  reservedPorts: z.array(z.number().int().min(0).max(65535)).max(1000).optional(),
});
export type RegisterRequest = z.infer<typeof RegisterRequest>;

export const RegisterResponse = z.object({
  containerInstanceArn: z.string(),
  cluster: z.string(),
  /** Shown once; the server keeps only its hash. */
  token: z.string(),
});
export type RegisterResponse = z.infer<typeof RegisterResponse>;

/** The agent API's error body. */
export const AgentError = z.object({ code: z.string(), message: z.string() });
export type AgentError = z.infer<typeof AgentError>;

export const TaskLastStatus = z.enum(['PENDING', 'RUNNING', 'STOPPED']);
export const ContainerLastStatus = z.enum(['PENDING', 'RUNNING', 'STOPPED']);
export const HealthStatus = z.enum(['HEALTHY', 'UNHEALTHY', 'UNKNOWN']);

export const NetworkBindingReport = z.object({
  containerPort: z.number().int().min(0).max(65535),
  hostPort: z.number().int().min(0).max(65535),
  protocol: z.enum(['tcp', 'udp']),
  bindIP: z
    .string()
    .regex(/^[0-9A-Fa-f.:]{0,64}$/, 'must be an IP address')
    .optional(),
});

export const ContainerReport = z.object({
  name: reportedName(1, 255),
  lastStatus: ContainerLastStatus,
  exitCode: z.number().int().min(-2_147_483_648).max(4_294_967_295).optional(),
  reason: reportedText(1024).optional(),
  healthStatus: HealthStatus.optional(),
  runtimeId: z
    .string()
    .regex(/^[0-9A-Za-z_.-]{0,128}$/, 'must be a container id')
    .optional(),
  networkBindings: z.array(NetworkBindingReport).max(100).optional(),
});
export type ContainerReport = z.infer<typeof ContainerReport>;

/** One task's state as the agent saw it. `seq` increases with every report about the task. */
export const TaskReport = z.object({
  taskArn: z.string().min(1).max(2048),
  seq: z.number().int().min(1),
  lastStatus: TaskLastStatus,
  healthStatus: HealthStatus.optional(),
  stopCode: z
    .enum(['TaskFailedToStart', 'EssentialContainerExited', 'UserInitiated', 'ServiceSchedulerInitiated'])
    .optional(),
  stoppedReason: reportedText(1024).optional(),
  /** When the agent saw the change (ISO); the server's clock is used when absent. */
  at: z.string().datetime().optional(),
  containers: z.array(ContainerReport).max(10),
});
export type TaskReport = z.infer<typeof TaskReport>;

export const SyncRequest = z.object({
  /** The last assignment version the agent applied (0 at first). */
  assignmentVersion: z.number().int().min(0),
  reports: z.array(TaskReport).max(200),
  resources: z.object({ cpu: z.number().int().min(1), memory: z.number().int().min(1) }).optional(),
});
export type SyncRequest = z.infer<typeof SyncRequest>;

/**
 * Where the agent may long-poll its doorbell without going through the agent API: a URL signed for
 * that one instance's doorbell and nothing else, good for `validForSeconds` from the answer that
 * carried it. On AWS it is a presigned SQS ReceiveMessage (so API Gateway bills no request for the
 * idle poll); `berth up` hands out a signed address on its own server. The agent sends no token to
 * it, and falls back to `GET /agent/v1/doorbell` when it has none or it fails (docs/doorbell.md).
 */
export type DoorbellAddress = {
  /** Absolute, or relative to the agent API's endpoint. */
  url: string;
  validForSeconds: number;
};

export type SyncResponse = {
  assignmentVersion: number;
  /** The instance's whole desired set, present only when assignmentVersion moved. */
  tasks?: AssignedTask[];
  acked: { taskArn: string; seq: number }[];
  /** Seconds between syncs when nothing happens (the sync is the heartbeat). */
  heartbeatSeconds: number;
  /** A fresh doorbell address, in every answer where the host has one. */
  doorbell?: DoorbellAddress;
};

export const DoorbellResponse = z.object({ rung: z.boolean() });
