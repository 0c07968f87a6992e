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
} as const;

/** Partition/prefix pairs for the list patterns on gsi1. */
export const gsi1Lists = {
  clusters: 'CLUSTERS',
  taskDefinitionFamilies: 'TASKDEF_FAMILIES',
  taskDefinitions: 'TASKDEFS',
  activations: 'ACTIVATIONS',
} as const;
