import type { AssignedContainer, AssignedTask } from '../../core/protocol/agent.ts';

/**
 * What the agent needs from a container engine. Docker implements it (docker.ts); an in-memory
 * fake (fake.ts) implements it for unit tests and the fleet simulator. Ids are the engine's own
 * container ids (reported as `runtimeId`).
 */

/** ECS_IMAGE_PULL_BEHAVIOR's values. */
export const PullBehaviors = ['default', 'always', 'once', 'prefer-cached'] as const;
export type PullBehavior = (typeof PullBehaviors)[number];

/** Registry credentials for a private image (from the agent's local credentials file). */
export type RegistryAuth = { username: string; password: string; serveraddress?: string };

export type NetworkBinding = {
  containerPort: number;
  hostPort: number;
  protocol: 'tcp' | 'udp';
  bindIP?: string;
};

/** The engine's health of a container with a health check (Docker's words). */
export type RuntimeHealth = 'starting' | 'healthy' | 'unhealthy';

/** One container as the engine sees it now. */
export type ContainerObservation = {
  id: string;
  taskArn: string;
  containerName: string;
  running: boolean;
  /** Set once the container has exited. */
  exitCode?: number;
  oomKilled?: boolean;
  /** The engine's error when it could not run the process (bad entrypoint…). */
  error?: string;
  health?: RuntimeHealth;
  /** ISO times; Docker answers the zero time for "never", mapped to undefined. */
  startedAt?: string;
  finishedAt?: string;
  networkBindings: NetworkBinding[];
};

/** A labelled container found by `list`: enough to match it to a task. */
export type ContainerSummary = { id: string; taskArn: string; containerName: string; running: boolean };

export type CreateRequest = {
  task: AssignedTask;
  container: AssignedContainer;
  cluster: string;
  /** The container instance ARN of the agent creating it: an agent only ever adopts or removes its own. */
  owner: string;
  /** The engine-level name: deterministic per task and container, so a second create finds the first. */
  name: string;
  /** Runtime ids of the task's other containers created so far (links, volumesFrom). */
  peers: Record<string, string>;
  /** Runtime names of the task's other containers (links refer to names). */
  peerNames: Record<string, string>;
};

/** Something changed for a container: the agent inspects it to learn what. */
export type RuntimeEvent = { id: string; taskArn?: string; containerName?: string; kind: string };

export type ContainerRuntime = {
  /** Makes the image available as the pull behaviour says; throws when it cannot. */
  ensureImage: (image: string, behavior: PullBehavior, auth?: RegistryAuth) => Promise<void>;
  /** Creates (does not start) a container; a container of the same name is returned, not duplicated. */
  create: (request: CreateRequest) => Promise<string>;
  start: (id: string) => Promise<void>;
  /** SIGTERM (or the image's stop signal), then SIGKILL after `timeoutSeconds`. */
  stop: (id: string, timeoutSeconds: number) => Promise<void>;
  remove: (id: string) => Promise<void>;
  /** Undefined when the container no longer exists. */
  inspect: (id: string) => Promise<ContainerObservation | undefined>;
  /** Every container `owner` (a container instance ARN) created, running or not. */
  list: (owner: string) => Promise<ContainerSummary[]>;
  /** Removes the task-scoped volumes created for a task. */
  removeTaskVolumes: (taskArn: string) => Promise<void>;
  /** Calls `onEvent` on changes of `owner`'s containers until the returned function is called. */
  watch: (
    owner: string,
    onEvent: (event: RuntimeEvent) => void,
    onError?: (error: unknown) => void,
  ) => () => void;
};

/** Labels every Berth container carries; `list` and adoption find containers by them. */
export const labels = {
  taskArn: 'berth.task-arn',
  containerName: 'berth.container-name',
  cluster: 'berth.cluster',
  family: 'berth.family',
  revision: 'berth.revision',
  /** Two agents may share a Docker engine (tests, a re-registered host): each keeps to its own. */
  containerInstance: 'berth.container-instance',
} as const;

/** The task id (last ARN segment): short, unique, and safe in engine names. */
export const taskIdOf = (taskArn: string): string => taskArn.split('/').pop() ?? taskArn;

/** Docker names allow [a-zA-Z0-9][a-zA-Z0-9_.-]; ECS names are letters, digits, - and _ already. */
export const runtimeNameOf = (
  task: Pick<AssignedTask, 'taskArn' | 'family' | 'revision'>,
  container: string,
) =>
  `berth-${task.family.slice(0, 100)}-${task.revision}-${container.slice(0, 60)}-${taskIdOf(task.taskArn)}`.replace(
    /[^a-zA-Z0-9_.-]/g,
    '_',
  );
