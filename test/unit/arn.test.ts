import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../core/config.ts';
import { arns, clusterNameOf, parseArn, scopedIdOf } from '../../core/model/arn.ts';
import { checkTags } from '../../core/model/tags.ts';

describe('ARNs', () => {
  const arn = arns(defaultConfig);

  it('are shaped as ECS shapes them', () => {
    expect(arn.cluster('edge')).toBe('arn:aws:ecs:us-east-1:000000000000:cluster/edge');
    expect(arn.taskDefinition('web', 3)).toBe('arn:aws:ecs:us-east-1:000000000000:task-definition/web:3');
    expect(arn.containerInstance('edge', 'abc')).toBe(
      'arn:aws:ecs:us-east-1:000000000000:container-instance/edge/abc',
    );
  });

  it('parse back into their parts', () => {
    expect(parseArn(arn.service('edge', 'api'))).toMatchObject({
      service: 'ecs',
      resourceType: 'service',
      resource: 'edge/api',
    });
    expect(parseArn('not-an-arn')).toBeUndefined();
  });

  it('resolve a cluster given by name, ARN or not at all', () => {
    expect(clusterNameOf(undefined)).toBe('default');
    expect(clusterNameOf('edge')).toBe('edge');
    expect(clusterNameOf(arn.cluster('edge'))).toBe('edge');
    expect(() => clusterNameOf('bad name')).toThrow(/Cluster name/);
    expect(() => clusterNameOf(arn.taskDefinition('web', 1))).toThrow(/Invalid cluster ARN/);
  });

  it('split scoped ARNs into cluster and id, old format included', () => {
    expect(scopedIdOf(arn.containerInstance('edge', 'abc'), 'container-instance')).toEqual({
      cluster: 'edge',
      id: 'abc',
    });
    expect(scopedIdOf('arn:aws:ecs:us-east-1:1:container-instance/abc', 'container-instance')).toEqual({
      id: 'abc',
    });
    expect(scopedIdOf('abc', 'container-instance')).toEqual({ id: 'abc' });
    expect(() => scopedIdOf(arn.cluster('edge'), 'task')).toThrow(/Invalid task ARN/);
  });
});

describe('tags', () => {
  it('merge over existing tags', () => {
    expect(checkTags([{ key: 'team', value: 'b' }], { team: 'a', env: 'x' })).toEqual({
      team: 'b',
      env: 'x',
    });
  });

  it('refuse the aws: prefix, long keys and more than 50', () => {
    expect(() => checkTags([{ key: 'aws:x', value: '' }])).toThrow(/reserved/);
    expect(() => checkTags([{ key: 'k'.repeat(129), value: '' }])).toThrow(/1 to 128/);
    const many = Array.from({ length: 51 }, (_, i) => ({ key: `k${i}`, value: 'v' }));
    expect(() => checkTags(many)).toThrow(/at most 50/);
  });
});
