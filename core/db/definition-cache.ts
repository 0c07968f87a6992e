import type { BerthConfig } from '../config.ts';
import { arns } from '../model/arn.ts';
import { describeTaskDefinition, type TaskDefinition } from '../model/task-definition/describe.ts';
import type { RegisterTaskDefinitionInput } from '../model/task-definition/schema.ts';
import type { Db } from './client.ts';
import { getRevision } from './task-definitions.ts';

/**
 * Task-definition revisions never change once registered (only their status does, which running
 * them does not depend on), so every process may keep what it has read.
 */
const cache = new Map<string, TaskDefinition>();
const maxEntries = 2000;

/** The described revision `family:revision`, from memory when this process has read it before. */
export const definitionOf = async (
  db: Db,
  config: BerthConfig,
  family: string,
  revision: number,
): Promise<TaskDefinition | undefined> => {
  const key = `${config.region}/${config.accountId}/${db.table}/${family}:${revision}`;
  const cached = cache.get(key);
  if (cached) return cached;
  const record = await getRevision(db, family, revision);
  if (!record) return undefined;
  const definition = describeTaskDefinition(record.registration as RegisterTaskDefinitionInput, {
    taskDefinitionArn: arns(config).taskDefinition(family, revision),
    revision,
    status: 'ACTIVE',
    registeredAt: new Date(record.registeredAt),
  });
  if (cache.size >= maxEntries) cache.delete(cache.keys().next().value as string);
  cache.set(key, definition);
  return definition;
};
