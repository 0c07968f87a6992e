/**
 * Every key of the single table is built here, and only from attributes that never change for the
 * item (names, ids, revisions). Names that reach a key are restricted to letters, digits, `-` and
 * `_` by validation, and ids are generated, so the `#` separator can never be forged by a caller.
 * Access patterns: see README.md beside this file.
 */
export type Key = { pk: string; sk: string };
export type Gsi1Key = { gsi1pk: string; gsi1sk: string };
export type Gsi2Key = { gsi2pk: string; gsi2sk: string };

const revisionWidth = 10;
export const padRevision = (revision: number): string => String(revision).padStart(revisionWidth, '0');

export const keys = {
  cluster: (name: string): Key & Gsi1Key => ({
    pk: `CLUSTER#${name}`,
    sk: 'CLUSTER',
    gsi1pk: 'CLUSTERS',
    gsi1sk: name,
  }),
  /** Instances share their cluster's partition: one Query lists them. */
  containerInstance: (cluster: string, id: string): Key => ({
    pk: `CLUSTER#${cluster}`,
    sk: `INSTANCE#${id}`,
  }),
  containerInstancesOf: (cluster: string) => ({ pk: `CLUSTER#${cluster}`, skPrefix: 'INSTANCE#' }),
  /** The agent token's hash points at its instance; the token itself is never stored. */
  agentToken: (tokenHash: string): Key => ({ pk: `AGENTTOKEN#${tokenHash}`, sk: 'TOKEN' }),

  taskDefinitionFamily: (family: string): Key & Gsi1Key => ({
    pk: `TASKDEF#${family}`,
    sk: 'FAMILY',
    gsi1pk: 'TASKDEF_FAMILIES',
    gsi1sk: family,
  }),
  taskDefinition: (family: string, revision: number): Key & Gsi1Key => ({
    pk: `TASKDEF#${family}`,
    sk: `REV#${padRevision(revision)}`,
    gsi1pk: 'TASKDEFS',
    gsi1sk: `${family}#${padRevision(revision)}`,
  }),
  taskDefinitionsOf: (family: string) => ({ pk: `TASKDEF#${family}`, skPrefix: 'REV#' }),

  activation: (id: string): Key & Gsi1Key => ({
    pk: `ACTIVATION#${id}`,
    sk: 'ACTIVATION',
    gsi1pk: 'ACTIVATIONS',
    gsi1sk: id,
  }),

  accessKey: (accessKeyId: string): Key => ({ pk: `ACCESSKEY#${accessKeyId}`, sk: 'ACCESSKEY' }),

  /** The agent's last sync, kept apart from the instance so a heartbeat is a tiny write. */
  heartbeat: (cluster: string, instanceId: string): Key => ({
    pk: `CLUSTER#${cluster}`,
    sk: `HEARTBEAT#${instanceId}`,
  }),

  /** A service and its tasks and events share one partition: one Query reads a reconcile unit. */
  service: (cluster: string, name: string): Key & Gsi1Key => ({
    pk: `SERVICE#${cluster}#${name}`,
    sk: 'SERVICE',
    gsi1pk: `SERVICES#${cluster}`,
    gsi1sk: name,
  }),
  serviceUnit: (cluster: string, name: string) => ({ pk: `SERVICE#${cluster}#${name}` }),
  serviceEvent: (cluster: string, name: string, createdAt: string, id: string): Key => ({
    pk: `SERVICE#${cluster}#${name}`,
    sk: `EVENT#${createdAt}#${id}`,
  }),
  /**
   * A task lives in its service's partition, or alone when it was started by RunTask/StartTask.
   * gsi1 finds any task of a cluster by id; gsi2 (sparse) lists the tasks assigned to an instance.
   */
  task: (cluster: string, id: string, instanceId: string, serviceName?: string): Key & Gsi1Key & Gsi2Key => ({
    pk: serviceName ? `SERVICE#${cluster}#${serviceName}` : `TASK#${cluster}#${id}`,
    sk: `TASK#${id}`,
    gsi1pk: `TASKS#${cluster}`,
    gsi1sk: id,
    gsi2pk: `INSTANCE#${instanceId}`,
    gsi2sk: `TASK#${id}`,
  }),
  tasksOfCluster: (cluster: string) => ({ gsi1pk: `TASKS#${cluster}` }),
  tasksOfInstance: (instanceId: string) => ({ gsi2pk: `INSTANCE#${instanceId}` }),
  /**
   * Failed registrations (wrong activation code or unknown id) in one fixed window, counted per
   * activation and per source address so that guessing is slowed down across Lambda instances.
   * `activationId` is only ever a well-formed (UUID) id; addresses come from the HTTP layer.
   */
  registrationFailures: (scope: 'activation' | 'ip', subject: string, windowStart: number): Key => ({
    pk: `REGFAIL#${scope === 'activation' ? 'ACTIVATION' : 'IP'}#${subject}`,
    sk: `WINDOW#${windowStart}`,
  }),
  /** RunTask's clientToken: same token, same answer, for 24 hours. */
  runTaskToken: (cluster: string, tokenHash: string): Key => ({
    pk: `CLUSTER#${cluster}`,
    sk: `RUNTASK#${tokenHash}`,
  }),
  /**
   * An SSM parameter (`berth up` only): the head holds the newest version, the version items the
   * history. Parameter names never hold `#`; gsi1 lists them in name order, so a path is a prefix.
   */
  parameter: (name: string): Key & Gsi1Key => ({
    pk: `PARAM#${name}`,
    sk: 'PARAM',
    gsi1pk: 'PARAMS',
    gsi1sk: name,
  }),
  parameterVersion: (name: string, version: number): Key => ({
    pk: `PARAM#${name}`,
    sk: `VERSION#${padRevision(version)}`,
  }),
  parameterVersionsOf: (name: string) => ({ pk: `PARAM#${name}`, skPrefix: 'VERSION#' }),
  /** Never written: `berth up` reads it after each transaction, to wait for its commit (client.ts). */
  commitBarrier: (): Key => ({ pk: 'BERTH#COMMIT', sk: 'BARRIER' }),
} as const;

/** A task's place, as its instance records it (liveTaskRefs): its partition and id. */
export const taskRef = (cluster: string, id: string, serviceName?: string): string =>
  `${keys.task(cluster, id, '', serviceName).pk}|${id}`;

/** The task id a taskRef names. */
export const taskIdOfRef = (ref: string): string => ref.slice(ref.lastIndexOf('|') + 1);

/** The table key a taskRef names. */
export const keyOfTaskRef = (ref: string): Key => ({
  pk: ref.slice(0, ref.lastIndexOf('|')),
  sk: `TASK#${taskIdOfRef(ref)}`,
});

/** Partition/prefix pairs for the list patterns on gsi1. */
export const gsi1Lists = {
  clusters: 'CLUSTERS',
  taskDefinitionFamilies: 'TASKDEF_FAMILIES',
  taskDefinitions: 'TASKDEFS',
  activations: 'ACTIVATIONS',
  parameters: 'PARAMS',
} as const;

/** What a stream record's keys say must be reconciled. */
export type ReconcileUnit =
  | { kind: 'service'; cluster: string; service: string }
  | { kind: 'instance'; cluster: string; instanceId: string }
  | { kind: 'none' };

export const unitOfKey = (pk: string, sk: string): ReconcileUnit => {
  if (pk.startsWith('SERVICE#')) {
    if (sk.startsWith('EVENT#')) return { kind: 'none' };
    const [, cluster = '', service = ''] = pk.split('#');
    return { kind: 'service', cluster, service };
  }
  if (pk.startsWith('CLUSTER#') && sk.startsWith('INSTANCE#')) {
    return {
      kind: 'instance',
      cluster: pk.slice('CLUSTER#'.length),
      instanceId: sk.slice('INSTANCE#'.length),
    };
  }
  return { kind: 'none' };
};
