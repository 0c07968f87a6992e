import { z } from 'zod';
import { requireActiveCluster } from '../db/clusters.ts';
import { allContainerInstances, writeAttributes } from '../db/container-instances.ts';
import { BerthError, invalidParameter, notFound } from '../errors.ts';
import { clusterNameOf } from '../model/arn.ts';
import { defineAction } from './action.ts';
import { findContainerInstance, pageOf } from './container-instances.ts';
import type { ActionContext } from './context.ts';

const attributeName = /^[A-Za-z0-9_\-/\\.]{1,128}$/;
const attributeValue = /^[A-Za-z0-9_\-.@/\\: ]{1,128}$/;

/** Attributes Berth sets itself: callers may read them, not change them. */
const isBuiltIn = (name: string) => name.startsWith('ecs.');
/** ECS allows ten custom attributes on a resource. */
const maxCustomAttributes = 10;

const Attribute = z.object({
  name: z.string(),
  value: z.string().optional(),
  targetType: z.literal('container-instance').optional(),
  targetId: z.string().optional(),
});
type Attribute = z.infer<typeof Attribute>;

const checkAttribute = (attribute: Attribute, index: number, withValue: boolean) => {
  if (!attributeName.test(attribute.name)) {
    throw invalidParameter(
      `attributes[${index}].name must be 1-128 letters, numbers, hyphens, underscores, slashes, back slashes or periods.`,
    );
  }
  if (withValue && attribute.value !== undefined) {
    if (!attributeValue.test(attribute.value) || /^ | $/.test(attribute.value)) {
      throw invalidParameter(
        `attributes[${index}].value must be 1-128 letters, numbers, hyphens, underscores, periods, at signs, slashes, back slashes, colons or spaces, not starting or ending with a space.`,
      );
    }
  }
  if (isBuiltIn(attribute.name)) {
    throw invalidParameter(
      `attributes[${index}].name: attributes starting with "ecs." are managed by Berth.`,
    );
  }
  if (!attribute.targetId) throw invalidParameter(`attributes[${index}].targetId is required.`);
};

const targetOf = async (context: ActionContext, cluster: string, attribute: Attribute) => {
  const instance = await findContainerInstance(context, cluster, attribute.targetId ?? '');
  if (!instance || instance.status === 'INACTIVE') {
    throw notFound('TargetNotFoundException', `Could not find ${attribute.targetId}.`);
  }
  return instance;
};

const wireAttribute = (
  context: ActionContext,
  cluster: string,
  instanceId: string,
  name: string,
  value: string | null,
) => ({
  name,
  ...(value === null ? {} : { value }),
  targetType: 'container-instance',
  targetId: context.arns.containerInstance(cluster, instanceId),
});

export const putAttributes = defineAction(
  z.object({ cluster: z.string().optional(), attributes: z.array(Attribute).min(1).max(10) }),
  async (context, input) => {
    const cluster = clusterNameOf(input.cluster);
    await requireActiveCluster(context.db, cluster);
    for (const [index, attribute] of input.attributes.entries()) checkAttribute(attribute, index, true);
    // Resolve every target before writing anything: a bad target fails the whole call.
    const targets = await Promise.all(
      input.attributes.map((attribute) => targetOf(context, cluster, attribute)),
    );
    const byInstance = new Map<string, { instance: (typeof targets)[number]; changes: Attribute[] }>();
    targets.forEach((instance, index) => {
      const entry = byInstance.get(instance.id) ?? { instance, changes: [] };
      entry.changes.push(input.attributes[index] as Attribute);
      byInstance.set(instance.id, entry);
    });
    for (const { instance, changes } of byInstance.values()) {
      const custom = new Set(Object.keys(instance.attributes).filter((name) => !isBuiltIn(name)));
      for (const change of changes) custom.add(change.name);
      if (custom.size > maxCustomAttributes) {
        throw new BerthError(
          'AttributeLimitExceededException',
          'input',
          `You can apply up to ${maxCustomAttributes} custom attributes to a resource.`,
        );
      }
    }
    const at = context.now().toISOString();
    for (const { instance, changes } of byInstance.values()) {
      await writeAttributes(
        context.db,
        instance,
        changes.map((change) => ({ name: change.name, value: change.value ?? null })),
        at,
      );
    }
    return { attributes: answeredAttributes(context, cluster, input.attributes, targets) };
  },
);

/** Put/DeleteAttributes answer each attribute as asked, on the instance it named. */
const answeredAttributes = (
  context: ActionContext,
  cluster: string,
  attributes: Attribute[],
  targets: { id: string }[],
) =>
  attributes.map((attribute, index) =>
    wireAttribute(
      context,
      cluster,
      (targets[index] as { id: string }).id,
      attribute.name,
      attribute.value ?? null,
    ),
  );

export const deleteAttributes = defineAction(
  z.object({ cluster: z.string().optional(), attributes: z.array(Attribute).min(1).max(10) }),
  async (context, input) => {
    const cluster = clusterNameOf(input.cluster);
    await requireActiveCluster(context.db, cluster);
    for (const [index, attribute] of input.attributes.entries()) checkAttribute(attribute, index, false);
    const targets = await Promise.all(
      input.attributes.map((attribute) => targetOf(context, cluster, attribute)),
    );
    const at = context.now().toISOString();
    for (const [index, instance] of targets.entries()) {
      await writeAttributes(
        context.db,
        instance,
        [{ name: (input.attributes[index] as Attribute).name, value: undefined }],
        at,
      );
    }
    return { attributes: answeredAttributes(context, cluster, input.attributes, targets) };
  },
);

export const listAttributes = defineAction(
  z.object({
    cluster: z.string().optional(),
    targetType: z.literal('container-instance'),
    attributeName: z.string().optional(),
    attributeValue: z.string().optional(),
    maxResults: z.number().int().optional(),
    nextToken: z.string().optional(),
  }),
  async (context, input) => {
    const cluster = clusterNameOf(input.cluster);
    await requireActiveCluster(context.db, cluster);
    if (input.attributeValue !== undefined && input.attributeName === undefined) {
      throw invalidParameter('attributeValue can only be given together with attributeName.');
    }
    const instances = (await allContainerInstances(context.db, cluster)).filter(
      (i) => i.status !== 'INACTIVE',
    );
    const all = instances.flatMap((instance) =>
      Object.entries(instance.attributes)
        .filter(([name]) => input.attributeName === undefined || name === input.attributeName)
        .filter(([, value]) => input.attributeValue === undefined || value === input.attributeValue)
        .map(([name, value]) => wireAttribute(context, cluster, instance.id, name, value)),
    );
    const { page, nextToken } = pageOf(all, input.maxResults, input.nextToken);
    return { attributes: page, ...(nextToken ? { nextToken } : {}) };
  },
);
