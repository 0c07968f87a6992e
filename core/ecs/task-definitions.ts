import { z } from 'zod';
import { pageLimit } from '../db/query.ts';
import {
  deregisterRevision,
  getRevision,
  latestActiveRevision,
  listFamiliesPage,
  listRevisionsPage,
  putNextRevision,
  type TaskDefinitionRecord,
} from '../db/task-definitions.ts';
import { clientError, invalidParameter } from '../errors.ts';
import { namePattern, parseArn } from '../model/arn.ts';
import { checkTags, TagList, tagListOf } from '../model/tags.ts';
import { describeTaskDefinition, type TaskDefinition } from '../model/task-definition/describe.ts';
import { RegisterTaskDefinitionInput } from '../model/task-definition/schema.ts';
import { validateTaskDefinition } from '../model/task-definition/validate.ts';
import { defineAction } from './action.ts';
import type { ActionContext } from './context.ts';

/** `family`, `family:revision` or a task-definition ARN, split into its parts. */
export const parseTaskDefinitionReference = (reference: string): { family: string; revision?: number } => {
  let body = reference;
  if (reference.startsWith('arn:')) {
    const arn = parseArn(reference);
    if (arn?.resourceType !== 'task-definition')
      throw invalidParameter(`Invalid task definition ARN: ${reference}`);
    body = arn.resource;
  }
  const [family = '', revision, ...rest] = body.split(':');
  if (
    !namePattern.test(family) ||
    rest.length > 0 ||
    (revision !== undefined && !/^[1-9]\d{0,9}$/.test(revision))
  ) {
    throw clientError(`Invalid revision number or task definition family: ${reference}`);
  }
  return { family, ...(revision === undefined ? {} : { revision: Number(revision) }) };
};

/** The revision a reference names (`family` alone: the newest ACTIVE one), or undefined. */
export const resolveTaskDefinition = async (
  context: ActionContext,
  reference: string,
): Promise<TaskDefinitionRecord | undefined> => {
  const { family, revision } = parseTaskDefinitionReference(reference);
  return revision === undefined
    ? latestActiveRevision(context.db, family)
    : getRevision(context.db, family, revision);
};

/** The ECS `TaskDefinition` shape of a stored revision. */
export const taskDefinitionOutput = (context: ActionContext, record: TaskDefinitionRecord): TaskDefinition =>
  describeTaskDefinition(record.registration as RegisterTaskDefinitionInput, {
    taskDefinitionArn: context.arns.taskDefinition(record.family, record.revision),
    revision: record.revision,
    status: record.status,
    registeredAt: new Date(record.registeredAt),
    ...(record.registeredBy ? { registeredBy: record.registeredBy } : {}),
    ...(record.deregisteredAt ? { deregisteredAt: new Date(record.deregisteredAt) } : {}),
  });

/** Dates go out as epoch seconds on the wire, whatever shape the model returns them in. */
const wire = (definition: TaskDefinition) => {
  const out: Record<string, unknown> = { ...definition };
  for (const field of ['registeredAt', 'deregisteredAt']) {
    const value = out[field];
    if (value instanceof Date) out[field] = value.getTime() / 1000;
    else if (typeof value === 'string') out[field] = Date.parse(value) / 1000;
  }
  return out;
};

export const registerTaskDefinition = defineAction(RegisterTaskDefinitionInput, async (context, input) => {
  validateTaskDefinition(input);
  const { tags, ...registration } = input as RegisterTaskDefinitionInput & { tags?: unknown };
  const tagList = tags === undefined ? [] : TagList.parse(tags);
  const record = await putNextRevision(context.db, {
    type: 'taskDefinition',
    family: input.family,
    status: 'ACTIVE',
    registration,
    tags: checkTags(tagList),
    registeredAt: context.now().toISOString(),
    registeredBy: `arn:aws:iam::${context.config.accountId}:user/${context.caller.accessKeyId}`,
  });
  return { taskDefinition: wire(taskDefinitionOutput(context, record)), tags: tagListOf(record.tags) };
});

export const describeTaskDefinitionAction = defineAction(
  z.object({ taskDefinition: z.string(), include: z.array(z.literal('TAGS')).optional() }),
  async (context, input) => {
    const record = await resolveTaskDefinition(context, input.taskDefinition);
    if (!record) throw clientError('Unable to describe task definition.');
    return {
      taskDefinition: wire(taskDefinitionOutput(context, record)),
      ...(input.include?.includes('TAGS') ? { tags: tagListOf(record.tags) } : {}),
    };
  },
);

export const listTaskDefinitions = defineAction(
  z.object({
    familyPrefix: z.string().optional(),
    status: z.enum(['ACTIVE', 'INACTIVE', 'DELETE_IN_PROGRESS']).optional(),
    sort: z.enum(['ASC', 'DESC']).optional(),
    maxResults: z.number().int().optional(),
    nextToken: z.string().optional(),
  }),
  async (context, input) => {
    // ECS's familyPrefix is a whole family name, despite its name.
    if (input.familyPrefix !== undefined && !namePattern.test(input.familyPrefix)) {
      return { taskDefinitionArns: [] };
    }
    const page = await listRevisionsPage(context.db, {
      family: input.familyPrefix,
      status: input.status === 'DELETE_IN_PROGRESS' ? undefined : (input.status ?? 'ACTIVE'),
      descending: input.sort === 'DESC',
      limit: pageLimit(input.maxResults),
      nextToken: input.nextToken,
    });
    if (input.status === 'DELETE_IN_PROGRESS') return { taskDefinitionArns: [] };
    return {
      taskDefinitionArns: page.items.map((item) =>
        context.arns.taskDefinition(String(item.family), Number(item.revision)),
      ),
      ...(page.nextToken ? { nextToken: page.nextToken } : {}),
    };
  },
);

export const listTaskDefinitionFamilies = defineAction(
  z.object({
    familyPrefix: z.string().optional(),
    status: z.enum(['ACTIVE', 'INACTIVE', 'ALL']).optional(),
    maxResults: z.number().int().optional(),
    nextToken: z.string().optional(),
  }),
  async (context, input) => {
    // No family name starts with what no family name may contain (nor is longer than one).
    if (input.familyPrefix !== undefined && !/^[A-Za-z0-9_-]{0,255}$/.test(input.familyPrefix)) {
      return { families: [] };
    }
    const page = await listFamiliesPage(context.db, {
      prefix: input.familyPrefix,
      status: input.status ?? 'ALL',
      limit: pageLimit(input.maxResults),
      nextToken: input.nextToken,
    });
    return {
      families: page.items.map((item) => String(item.family)),
      ...(page.nextToken ? { nextToken: page.nextToken } : {}),
    };
  },
);

export const deregisterTaskDefinition = defineAction(
  z.object({ taskDefinition: z.string() }),
  async (context, input) => {
    const { family, revision } = parseTaskDefinitionReference(input.taskDefinition);
    if (revision === undefined) {
      throw clientError(
        'Invalid revision number. Number: undefined. Specify family:revision or the full ARN.',
      );
    }
    const record = await getRevision(context.db, family, revision);
    if (!record) throw clientError('The specified task definition does not exist.');
    const at = context.now().toISOString();
    // A second deregistration answers like the first: the revision is INACTIVE either way.
    await deregisterRevision(context.db, family, revision, at);
    const stored = (await getRevision(context.db, family, revision)) ?? record;
    return { taskDefinition: wire(taskDefinitionOutput(context, stored)) };
  },
);
