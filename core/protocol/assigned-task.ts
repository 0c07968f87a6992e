import * as z from 'zod/mini';
import type { ContainerDefinitionInput, Volume } from '../model/task-definition/schema.ts';

/**
 * The part of the sync answer the agent runs: each assigned task and its containers. Shared by the
 * server (core/model/task-factory.ts builds it) and the agent (agent/client.ts checks it). Written
 * with `zod/mini`, not `zod`, so the agent bundle can load it (see agent/shape.ts): importing this
 * file must never pull in the full zod, nor any module that does.
 */

/**
 * One container as the agent reads it: the registered container definition (the task-definition
 * schema's type) with `essential` settled. The server sends the described definition
 * (`ContainerDefinition`: ECS's defaults filled in, overrides applied), which is one of these; the
 * agent still reads the defaulted lists as optional.
 */
export type AssignedContainer = ContainerDefinitionInput & { essential: boolean };

/** A task volume as registered. */
export type AssignedVolume = Volume;

/** A task as assigned to an agent: the task definition's parts the agent runs, with overrides applied. */
export type AssignedTask = {
  taskArn: string;
  desiredStatus: 'RUNNING' | 'STOPPED';
  family: string;
  revision: number;
  networkMode: 'bridge' | 'host' | 'none';
  containers: AssignedContainer[];
  volumes: AssignedVolume[];
  cpu?: string;
  memory?: string;
  serviceName?: string;
  /** Restart essential containers that fail while offline (service tasks and restartPolicy). */
  restartOnFailure: boolean;
  createdAt: string;
};

const listOfObjects = z.optional(z.array(z.looseObject({})));

/*
 * The agent checks the outline it acts on (names, images, the lists it walks); the definition's
 * members themselves were checked by the server's task-definition schema when it was registered,
 * so past the outline each part is taken as its type (`z.custom`) rather than checked again.
 */
const ContainerOutline = z.looseObject({
  name: z.string(),
  image: z.string(),
  essential: z.boolean(),
  portMappings: listOfObjects,
  environment: listOfObjects,
  mountPoints: listOfObjects,
  volumesFrom: listOfObjects,
  dependsOn: listOfObjects,
});

const VolumeOutline = z.looseObject({ name: z.string() });

const TaskOutline = z.looseObject({
  taskArn: z.string(),
  desiredStatus: z.enum(['RUNNING', 'STOPPED']),
  containers: z.array(z.pipe(ContainerOutline, z.custom<AssignedContainer>())),
  // Absent from older servers' answers: no volumes.
  volumes: z._default(z.array(z.pipe(VolumeOutline, z.custom<AssignedVolume>())), []),
});

/** An assigned task as the agent reads it from a sync answer. */
export const AssignedTask = z.pipe(TaskOutline, z.custom<AssignedTask>());

const pathOf = (path: readonly PropertyKey[]) =>
  path.map((key) => (typeof key === 'number' ? `[${key}]` : `.${String(key)}`)).join('');

/** An issue as a sentence naming the member: `task.containers[0].image: expected string`. */
const describeIssue = (what: string, issue: z.core.$ZodIssue): string => {
  const at = `${what}${pathOf(issue.path)}`;
  if (issue.code === 'invalid_type') return `${at}: expected ${issue.expected}`;
  if (issue.code === 'invalid_value') return `${at}: expected one of ${issue.values.join(', ')}`;
  return `${at}: ${issue.code}`;
};

/**
 * Reads one assigned task, or says what is wrong with it. The outline is checked; the rest is
 * typed by the contract above, not re-validated.
 */
export const readAssignedTask = (
  value: unknown,
  what = 'task',
): { task: AssignedTask } | { problem: string } => {
  const result = z.safeParse(AssignedTask, value);
  if (result.success) return { task: result.data };
  return { problem: result.error.issues.map((issue) => describeIssue(what, issue)).join('; ') };
};
