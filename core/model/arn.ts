import type { BerthConfig } from '../config.ts';
import { invalidParameter } from '../errors.ts';

/** ECS names: 1–255 letters, digits, hyphens and underscores. */
export const namePattern = /^[A-Za-z0-9_-]{1,255}$/;

export const ResourceTypes = ['cluster', 'task-definition', 'service', 'task', 'container-instance'] as const;
export type ResourceType = (typeof ResourceTypes)[number];

export type ParsedArn = {
  region: string;
  accountId: string;
  service: 'ecs' | 'ssm';
  resourceType: string;
  /** The part after `type/`, e.g. `family:3`, `CLUSTER/ID`. */
  resource: string;
};

const arnPattern = /^arn:aws:(ecs|ssm):([a-z0-9-]*):(\d*):([a-z-]+)\/(.+)$/;

export const parseArn = (arn: string): ParsedArn | undefined => {
  const match = arnPattern.exec(arn);
  if (!match) return undefined;
  const [, service, region, accountId, resourceType, resource] = match;
  return {
    service: service as 'ecs' | 'ssm',
    region: region ?? '',
    accountId: accountId ?? '',
    resourceType: resourceType ?? '',
    resource: resource ?? '',
  };
};

export const arns = (config: BerthConfig) => {
  const prefix = `arn:aws:ecs:${config.region}:${config.accountId}`;
  return {
    cluster: (name: string) => `${prefix}:cluster/${name}`,
    taskDefinition: (family: string, revision: number) => `${prefix}:task-definition/${family}:${revision}`,
    service: (cluster: string, name: string) => `${prefix}:service/${cluster}/${name}`,
    task: (cluster: string, id: string) => `${prefix}:task/${cluster}/${id}`,
    containerInstance: (cluster: string, id: string) => `${prefix}:container-instance/${cluster}/${id}`,
    activation: (id: string) => `arn:aws:ssm:${config.region}:${config.accountId}:activation/${id}`,
  };
};

/** A cluster given as a name or an ARN (absent means `default`), reduced to its name. */
export const clusterNameOf = (cluster: string | undefined): string => {
  if (cluster === undefined || cluster === '') return 'default';
  if (cluster.startsWith('arn:')) {
    const parsed = parseArn(cluster);
    if (parsed?.resourceType !== 'cluster' || !namePattern.test(parsed.resource)) {
      throw invalidParameter(`Invalid cluster ARN: ${cluster}`);
    }
    return parsed.resource;
  }
  if (!namePattern.test(cluster)) {
    throw invalidParameter(
      'Cluster name can have up to 255 characters: letters (uppercase and lowercase), numbers, hyphens and underscores.',
    );
  }
  return cluster;
};

/**
 * A cluster-scoped resource (container instance, task, service) given as an ID, a name or an ARN:
 * returns its cluster (when the ARN names one) and its id.
 */
export const scopedIdOf = (
  value: string,
  resourceType: 'container-instance' | 'task' | 'service',
): { cluster?: string; id: string } => {
  if (!value.startsWith('arn:')) return { id: value };
  const parsed = parseArn(value);
  if (!parsed || parsed.resourceType !== resourceType) {
    throw invalidParameter(`Invalid ${resourceType} ARN: ${value}`);
  }
  const parts = parsed.resource.split('/');
  // Old-format ARNs have no cluster segment: `container-instance/ID`.
  if (parts.length === 1) return { id: parts[0] ?? '' };
  return { cluster: parts[0], id: parts.slice(1).join('/') };
};
