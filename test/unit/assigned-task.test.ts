import { describe, expect, it } from 'vitest';
import { syncResponseOf } from '../../agent/client.ts';
import { ShapeError } from '../../agent/shape.ts';
import { describeTaskDefinition } from '../../core/model/task-definition/describe.ts';
import { RegisterTaskDefinitionInput } from '../../core/model/task-definition/schema.ts';
import { assignedTaskOf, newTaskRecord } from '../../core/model/task-factory.ts';
import { readAssignedTask } from '../../core/protocol/assigned-task.ts';

const at = '2026-01-01T00:00:00.000Z';

/** A task as the server assigns it, sent over JSON as the sync answer carries it. */
const assignedOverTheWire = () => {
  const input = RegisterTaskDefinitionInput.parse({
    family: 'web',
    containerDefinitions: [
      {
        name: 'app',
        image: 'nginx:1',
        memory: 64,
        portMappings: [{ containerPort: 80 }],
        mountPoints: [{ sourceVolume: 'data', containerPath: '/data' }],
        healthCheck: { command: ['CMD-SHELL', 'true'] },
      },
      {
        name: 'sidecar',
        image: 'busybox',
        essential: false,
        dependsOn: [{ containerName: 'app', condition: 'START' }],
      },
    ],
    volumes: [{ name: 'data', host: { sourcePath: '/srv/data' } }],
  });
  const definition = describeTaskDefinition(input, {
    taskDefinitionArn: 'arn:aws:ecs:eu-west-1:000000000000:task-definition/web:1',
    revision: 1,
    status: 'ACTIVE',
    registeredAt: new Date(at),
  });
  const task = newTaskRecord({
    cluster: 'edge',
    id: 't1',
    definition,
    instanceId: 'i1',
    group: 'family:web',
    overrides: { containerOverrides: [{ name: 'app', command: ['nginx', '-g', 'daemon off;'] }] },
    at,
  });
  const assigned = assignedTaskOf(task, definition, 'arn:aws:ecs:eu-west-1:000000000000:task/edge/t1');
  return { assigned, wire: JSON.parse(JSON.stringify(assigned)) as unknown };
};

describe('the assigned-task contract', () => {
  it('reads a task the server assigned exactly as it was built', () => {
    // Prepare
    const { assigned, wire } = assignedOverTheWire();
    // Act
    const read = readAssignedTask(wire);
    const answer = syncResponseOf({ assignmentVersion: 2, acked: [], tasks: [wire] });
    // Assess
    expect(read).toEqual({ task: assigned });
    expect(answer.tasks).toEqual([assigned]);
    expect(assigned.containers[0]?.command).toEqual(['nginx', '-g', 'daemon off;']);
  });

  it('takes a task without volumes (an older server) as having none', () => {
    const read = readAssignedTask({ taskArn: 'a', desiredStatus: 'RUNNING', containers: [] });
    expect(read).toEqual({ task: { taskArn: 'a', desiredStatus: 'RUNNING', containers: [], volumes: [] } });
  });

  it('refuses a malformed task naming each wrong member', () => {
    // Prepare
    const { wire } = assignedOverTheWire();
    const broken = structuredClone(wire) as { desiredStatus: unknown; containers: Record<string, unknown>[] };
    broken.desiredStatus = 'PAUSED';
    delete broken.containers[0]?.image;
    broken.containers[1] = { ...broken.containers[1], portMappings: 'all' };
    // Act
    const read = readAssignedTask(broken);
    // Assess
    expect(read).toEqual({
      problem:
        'task.desiredStatus: expected one of RUNNING, STOPPED; task.containers[0].image: expected string; ' +
        'task.containers[1].portMappings: expected array',
    });
  });

  it('refuses a sync answer carrying a malformed task with a ShapeError', () => {
    const answer = {
      assignmentVersion: 1,
      acked: [],
      tasks: [{ taskArn: 'a', desiredStatus: 'RUNNING', containers: [{ name: 'app' }] }],
    };
    expect(() => syncResponseOf(answer)).toThrow(ShapeError);
    expect(() => syncResponseOf(answer)).toThrow('task.containers[0].image: expected string');
  });
});
