import { z } from 'zod';

/**
 * The agent wire protocol (`/agent/v1/…`). Shared by the server (functions/) and the agent, so
 * both sides validate the same shapes. Fields may be added, never renamed.
 */
export const agentApiPrefix = '/agent/v1';

export const Attribute = z.object({
  name: z.string().regex(/^[A-Za-z0-9_\-/\\.]{1,128}$/, 'must be 1-128 letters, digits, - _ / \\ or .'),
  value: z.string().max(128).optional(),
});

export const RegisterRequest = z.object({
  activationId: z.string().min(1).max(64),
  activationCode: z.string().min(1).max(256),
  cluster: z.string().min(1).max(2048).optional(),
  hostname: z.string().min(1).max(255),
  agentVersion: z.string().min(1).max(64),
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
