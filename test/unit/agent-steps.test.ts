import { describe, expect, it } from 'vitest';
import {
  type ContainerFacts,
  dependencyState,
  nextStep,
  type TaskFacts,
  taskHealthOf,
  taskStatusOf,
} from '../../agent/steps.ts';

const container = (name: string, facts: Partial<ContainerFacts> = {}): ContainerFacts => ({
  name,
  essential: true,
  phase: 'NONE',
  everStarted: false,
  everHealthy: false,
  dependsOn: [],
  needs: [],
  ...facts,
});

const task = (containers: ContainerFacts[], stopping = false): TaskFacts => ({ stopping, containers });
const now = 1_000_000;

describe('nextStep', () => {
  it('pulls, creates and starts a container with no dependencies', () => {
    expect(nextStep(task([container('a')]), 'a', now).kind).toBe('pull');
    expect(nextStep(task([container('a', { phase: 'PULLED' })]), 'a', now).kind).toBe('create');
    expect(nextStep(task([container('a', { phase: 'CREATED' })]), 'a', now).kind).toBe('start');
    expect(nextStep(task([container('a', { phase: 'RUNNING', everStarted: true })]), 'a', now).kind).toBe(
      'none',
    );
  });

  it('waits to start until a START dependency has started', () => {
    const app = container('app', {
      phase: 'CREATED',
      dependsOn: [{ containerName: 'db', condition: 'START' }],
    });
    expect(nextStep(task([app, container('db', { phase: 'CREATED' })]), 'app', now).kind).toBe('wait');
    expect(
      nextStep(task([app, container('db', { phase: 'RUNNING', everStarted: true })]), 'app', now).kind,
    ).toBe('start');
  });

  it('starts after a SUCCESS dependency exited 0 and fails the container when it exited otherwise', () => {
    const app = container('app', {
      phase: 'CREATED',
      dependsOn: [{ containerName: 'init', condition: 'SUCCESS' }],
    });
    const init = (exitCode: number) =>
      container('init', { essential: false, phase: 'STOPPED', everStarted: true, exitCode });
    expect(
      nextStep(
        task([app, container('init', { essential: false, phase: 'RUNNING', everStarted: true })]),
        'app',
        now,
      ).kind,
    ).toBe('wait');
    expect(nextStep(task([app, init(0)]), 'app', now).kind).toBe('start');
    expect(nextStep(task([app, init(1)]), 'app', now)).toMatchObject({ kind: 'fail' });
  });

  it('waits for HEALTHY and gives up when the dependency stopped without ever being healthy', () => {
    const app = container('app', {
      phase: 'CREATED',
      dependsOn: [{ containerName: 'db', condition: 'HEALTHY' }],
    });
    const db = (facts: Partial<ContainerFacts>) => container('db', { everStarted: true, ...facts });
    expect(nextStep(task([app, db({ phase: 'RUNNING', health: 'UNKNOWN' })]), 'app', now).kind).toBe('wait');
    expect(
      nextStep(task([app, db({ phase: 'RUNNING', health: 'HEALTHY', everHealthy: true })]), 'app', now).kind,
    ).toBe('start');
    expect(nextStep(task([app, db({ phase: 'STOPPED', exitCode: 1 })]), 'app', now)).toMatchObject({
      kind: 'fail',
    });
  });

  it('creates a container only after the containers it links to or mounts from exist', () => {
    const app = container('app', { phase: 'PULLED', needs: ['data'] });
    expect(nextStep(task([app, container('data', { phase: 'PULLED' })]), 'app', now).kind).toBe('wait');
    expect(nextStep(task([app, container('data', { phase: 'CREATED' })]), 'app', now).kind).toBe('create');
  });

  it('stops containers in reverse dependency order while stopping', () => {
    const db = container('db', { phase: 'RUNNING', everStarted: true });
    const app = container('app', {
      phase: 'RUNNING',
      everStarted: true,
      dependsOn: [{ containerName: 'db', condition: 'START' }],
    });
    const stopping = task([db, app], true);
    expect(nextStep(stopping, 'app', now).kind).toBe('stop');
    expect(nextStep(stopping, 'db', now).kind).toBe('wait');
    const appStopped = task([db, { ...app, phase: 'STOPPED' }], true);
    expect(nextStep(appStopped, 'db', now).kind).toBe('stop');
  });

  it('skips containers that never started when the task stops, and cancels pending restarts', () => {
    expect(nextStep(task([container('a', { phase: 'PULLED' })], true), 'a', now).kind).toBe('skip');
    const waiting = container('a', { phase: 'STOPPED', everStarted: true, restartAt: now + 5000 });
    expect(nextStep(task([waiting], true), 'a', now).kind).toBe('skip');
  });

  it('restarts a stopped container only once its restart is due', () => {
    const waiting = container('a', {
      phase: 'STOPPED',
      everStarted: true,
      exitCode: 1,
      restartAt: now + 1000,
    });
    expect(nextStep(task([waiting]), 'a', now).kind).toBe('wait');
    expect(nextStep(task([waiting]), 'a', now + 1000).kind).toBe('restart');
  });
});

describe('dependencyState', () => {
  it('treats a dependency that was skipped as never meeting any condition', () => {
    const skipped = container('db', { phase: 'STOPPED', everStarted: false });
    for (const condition of ['START', 'COMPLETE', 'SUCCESS', 'HEALTHY'] as const) {
      expect(dependencyState(skipped, condition)).toBe('never');
    }
  });
});

describe('taskStatusOf', () => {
  it('is PENDING until every container started, RUNNING then, STOPPED when all stopped for good', () => {
    const running = container('a', { phase: 'RUNNING', everStarted: true });
    expect(taskStatusOf(task([running, container('b', { phase: 'CREATED' })]))).toBe('PENDING');
    expect(taskStatusOf(task([running, container('b', { phase: 'RUNNING', everStarted: true })]))).toBe(
      'RUNNING',
    );
    const stopped = container('a', { phase: 'STOPPED', everStarted: true, exitCode: 0 });
    expect(taskStatusOf(task([stopped, { ...stopped, name: 'b' }]))).toBe('STOPPED');
  });

  it('stays RUNNING while a container waits for a local restart', () => {
    const waiting = container('a', { phase: 'STOPPED', everStarted: true, exitCode: 137, restartAt: now });
    expect(taskStatusOf(task([waiting]))).toBe('RUNNING');
  });
});

describe('taskHealthOf', () => {
  it('follows the essential containers that have health checks', () => {
    expect(taskHealthOf([{ essential: true }])).toBe('UNKNOWN');
    expect(
      taskHealthOf([
        { essential: true, health: 'HEALTHY' },
        { essential: false, health: 'UNHEALTHY' },
      ]),
    ).toBe('HEALTHY');
    expect(
      taskHealthOf([
        { essential: true, health: 'HEALTHY' },
        { essential: true, health: 'UNHEALTHY' },
      ]),
    ).toBe('UNHEALTHY');
    expect(
      taskHealthOf([
        { essential: true, health: 'HEALTHY' },
        { essential: true, health: 'UNKNOWN' },
      ]),
    ).toBe('UNKNOWN');
  });
});
