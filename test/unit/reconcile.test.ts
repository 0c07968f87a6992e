import { describe, expect, it } from 'vitest';
import { replaceAfterDisconnectTag } from '../../core/model/service.ts';
import {
  failureThreshold,
  isEmptyPlan,
  reconcileService,
  type ServicePlan,
} from '../../core/reconcile/service.ts';
import {
  at,
  config,
  DEP_A,
  DEP_B,
  deployment,
  failedTask,
  input,
  instance,
  instancesOf,
  pendingTask,
  rollingDeployments,
  service,
  startCount,
  stoppedIds,
  T0,
  task,
} from './reconcile-fixtures.ts';

const steadyEvent = '(service web) has reached a steady state.';
const backoffEvent = 'is unable to consistently start tasks successfully';

/** Whether the plan writes the service field away (present in the changes, undefined). */
const clears = (plan: ServicePlan, field: keyof NonNullable<ServicePlan['service']>) =>
  plan.service !== undefined && Object.hasOwn(plan.service, field) && plan.service[field] === undefined;

/** A task of deployment B (revision 2). */
const newTask = (id: string, overrides: Parameters<typeof task>[1] = {}) =>
  task(id, { deploymentId: DEP_B, startedBy: DEP_B, revision: 2, createdAt: at(-50), ...overrides });

describe('reconcileService', () => {
  describe('scaling', () => {
    it('starts the missing tasks when fewer run than desired', () => {
      // Prepare: a new service, desired 3, nothing placed yet.
      const state = input({ service: service({ desiredCount: 3 }) });

      // Act
      const plan = reconcileService(state);

      // Assess
      expect(plan.start).toEqual([{ deploymentId: DEP_A, family: 'web', revision: 1, count: 3 }]);
      expect(plan.stop).toEqual([]);
      expect(plan.finalize).toEqual([]);
      expect(plan.events).toEqual([]);
    });

    it('starts only the difference when some already run', () => {
      const state = input({ service: service({ desiredCount: 3 }), tasks: [task('a')] });

      const plan = reconcileService(state);

      expect(startCount(plan)).toBe(2);
      expect(plan.stop).toEqual([]);
    });

    it('stops the excess when more run than desired, not-yet-healthy ones first', () => {
      // Prepare: desired 2; three healthy tasks and one still pending.
      const state = input({
        service: service({ desiredCount: 2 }),
        tasks: [
          task('a', { instanceId: 'i-1' }),
          task('b', { instanceId: 'i-2' }),
          task('c', { instanceId: 'i-3' }),
          pendingTask('p', { instanceId: 'i-3' }),
        ],
      });

      const plan = reconcileService(state);

      // Assess: the pending one goes, plus one healthy one from the instance holding two.
      expect(stoppedIds(plan)).toEqual(['c', 'p']);
      expect(plan.start).toEqual([]);
      expect(plan.stop.find((s) => s.taskId === 'c')).toMatchObject({
        reason: 'Scaling activity initiated by the service.',
        stopCode: 'ServiceSchedulerInitiated',
      });
    });

    it('takes excess tasks from the most crowded instance first', () => {
      // Prepare: desired lowered from 4 to 2; i-1 holds three tasks, i-2 one.
      const state = input({
        service: service({ desiredCount: 2 }),
        tasks: [
          task('a', { instanceId: 'i-1' }),
          task('b', { instanceId: 'i-1' }),
          task('c', { instanceId: 'i-1' }),
          task('d', { instanceId: 'i-2' }),
        ],
      });

      const plan = reconcileService(state);

      expect(plan.stop).toHaveLength(2);
      expect(plan.stop.every((s) => ['a', 'b', 'c'].includes(s.taskId))).toBe(true);
    });

    it('writes nothing when the service is steady', () => {
      const state = input({
        service: service({ steadySince: at(-300) }),
        tasks: [task('a', { instanceId: 'i-1' }), task('b', { instanceId: 'i-2' })],
      });

      const plan = reconcileService(state);

      expect(isEmptyPlan(plan)).toBe(true);
      expect(plan.recheckAt).toBeUndefined();
    });

    it('keeps asking to start while no instance has capacity (placement is not its job)', () => {
      // Prepare: desired 2, nothing could be placed in the pass before (no task appeared).
      const state = input({
        service: service({
          desiredCount: 2,
          placementMessage: 'no container instance met all of its requirements.',
        }),
      });

      // Act: the same state twice, as when every placement fails; then with capacity (one placed).
      const first = reconcileService(state);
      const again = reconcileService({ ...state, now: new Date(T0 + 60_000) });
      const withCapacity = reconcileService({ ...state, tasks: [pendingTask('a')] });

      // Assess
      expect(first.start).toEqual([{ deploymentId: DEP_A, family: 'web', revision: 1, count: 2 }]);
      expect(again.start).toEqual(first.start);
      expect(first.events).toEqual([]);
      expect(startCount(withCapacity)).toBe(1);
    });
  });

  describe('events', () => {
    it('says it reached a steady state once, not on every pass', () => {
      // Prepare: two healthy tasks, not yet marked steady.
      const tasks = [task('a', { instanceId: 'i-1' }), task('b', { instanceId: 'i-2' })];
      const first = input({ service: service(), tasks });

      // Act: one pass, then the pass after its write.
      const plan = reconcileService(first);
      const next = reconcileService(input({ service: service({ ...plan.service }), tasks }));

      // Assess
      expect(plan.events).toEqual([steadyEvent]);
      expect(plan.service).toEqual({ steadySince: new Date(T0).toISOString() });
      expect(isEmptyPlan(next)).toBe(true);
    });

    it('clears the steady mark when the service is disturbed, so the next steady state is reported', () => {
      const state = input({ service: service({ steadySince: at(-300) }), tasks: [task('a')] });

      const plan = reconcileService(state);

      expect(clears(plan, 'steadySince')).toBe(true);
      expect(plan.events).toEqual([]);
    });
  });

  describe('deployments', () => {
    it('starts D new tasks first with min 100 / max 200, and stops old ones only as new ones become healthy', () => {
      // Prepare: two healthy old tasks; deployment B (revision 2) has just become PRIMARY.
      const svc = service({ deployments: rollingDeployments() });
      const old = [task('a', { instanceId: 'i-1' }), task('b', { instanceId: 'i-2' })];

      // Act + Assess: pass 1 starts both new tasks and stops nothing.
      const pass1 = reconcileService(input({ service: svc, tasks: old }));
      expect(pass1.start).toEqual([{ deploymentId: DEP_B, family: 'web', revision: 2, count: 2 }]);
      expect(pass1.stop).toEqual([]);

      // Pass 2: the new tasks are still pending: nothing to do.
      const placed = [
        newTask('n1', { lastStatus: 'PROVISIONING', healthyAt: undefined, startedAt: undefined }),
      ];
      placed.push(newTask('n2', { lastStatus: 'PENDING', healthyAt: undefined, startedAt: undefined }));
      const pass2 = reconcileService(input({ service: svc, tasks: [...old, ...placed] }));
      expect(pass2.start).toEqual([]);
      expect(pass2.stop).toEqual([]);

      // Pass 3: one new task healthy -> exactly one old task may go.
      const oneHealthy = [newTask('n1'), placed[1]!];
      const pass3 = reconcileService(input({ service: svc, tasks: [...old, ...oneHealthy] }));
      expect(pass3.start).toEqual([]);
      expect(pass3.stop).toHaveLength(1);
      expect(['a', 'b']).toContain(pass3.stop[0]?.taskId);
      expect(pass3.stop[0]?.reason).toBe('Task replaced by a newer deployment.');

      // Pass 4: both new tasks healthy, old ones stopped -> COMPLETED, old deployment dropped.
      const stopped = old.map((t) => ({
        ...t,
        desiredStatus: 'STOPPED' as const,
        lastStatus: 'STOPPED' as const,
      }));
      const pass4 = reconcileService(
        input({ service: svc, tasks: [...stopped, newTask('n1'), newTask('n2')] }),
      );
      expect(pass4.start).toEqual([]);
      expect(pass4.stop).toEqual([]);
      expect(pass4.service?.deployments).toEqual([
        expect.objectContaining({ id: DEP_B, status: 'PRIMARY', rolloutState: 'COMPLETED' }),
      ]);
      expect(pass4.events).toEqual([`(service web) (deployment ${DEP_B}) has completed.`, steadyEvent]);
    });

    it('stops half of the old tasks first with min 50 / max 100, then starts new ones', () => {
      // Prepare: desired 4, four healthy old tasks, no room above 100%.
      const svc = service({
        desiredCount: 4,
        deploymentConfiguration: config(50, 100),
        deployments: rollingDeployments(),
      });
      const old = ['a', 'b', 'c', 'd'].map((id, k) => task(id, { instanceId: `i-${(k % 3) + 1}` }));

      // Pass 1: two old tasks stop (healthy stays at the floor of 2), nothing starts.
      const pass1 = reconcileService(input({ service: svc, tasks: old }));
      expect(pass1.start).toEqual([]);
      expect(pass1.stop).toHaveLength(2);

      // Pass 2: the two are stopping and still hold their instances: still nothing starts.
      const stopping = old.map((t) =>
        stoppedIds(pass1).includes(t.id) ? { ...t, desiredStatus: 'STOPPED' as const } : t,
      );
      const pass2 = reconcileService(input({ service: svc, tasks: stopping }));
      expect(pass2.start).toEqual([]);
      expect(pass2.stop).toEqual([]);

      // Pass 3: they stopped: two new tasks start.
      const gone = stopping.map((t) =>
        t.desiredStatus === 'STOPPED' ? { ...t, lastStatus: 'STOPPED' as const } : t,
      );
      const pass3 = reconcileService(input({ service: svc, tasks: gone }));
      expect(pass3.start).toEqual([{ deploymentId: DEP_B, family: 'web', revision: 2, count: 2 }]);
      expect(pass3.stop).toEqual([]);

      // Pass 4: the new ones are healthy: the last two old ones stop.
      const pass4 = reconcileService(input({ service: svc, tasks: [...gone, newTask('n1'), newTask('n2')] }));
      expect(pass4.start).toEqual([]);
      expect(pass4.stop).toHaveLength(2);
    });

    it('stops every old task at once with min 0 / max 100, then starts the new ones', () => {
      const svc = service({ deploymentConfiguration: config(0, 100), deployments: rollingDeployments() });
      const old = [task('a'), task('b', { instanceId: 'i-2' })];

      const pass1 = reconcileService(input({ service: svc, tasks: old }));
      const stopped = old.map((t) => ({
        ...t,
        desiredStatus: 'STOPPED' as const,
        lastStatus: 'STOPPED' as const,
      }));
      const pass2 = reconcileService(input({ service: svc, tasks: stopped }));

      expect(stoppedIds(pass1)).toEqual(['a', 'b']);
      expect(pass1.start).toEqual([]);
      expect(pass2.start).toEqual([{ deploymentId: DEP_B, family: 'web', revision: 2, count: 2 }]);
    });
  });

  describe('circuit breaker', () => {
    it('computes the failure threshold as half the desired count, at least 3, at most 200', () => {
      expect([1, 4, 6, 7, 10, 399, 400, 1000].map(failureThreshold)).toEqual([3, 3, 3, 4, 5, 200, 200, 200]);
    });

    it('rolls a failed deployment back to the previous definition once the threshold is reached', () => {
      // Prepare: desired 4 (threshold 3); B's first three tasks failed to start; A still runs.
      const svc = service({
        desiredCount: 4,
        deploymentConfiguration: config(100, 200, { enable: true, rollback: true }),
        deployments: rollingDeployments(),
      });
      const failures = ['f1', 'f2', 'f3'].map((id, k) =>
        failedTask(id, -30 + k, { deploymentId: DEP_B, startedBy: DEP_B, revision: 2 }),
      );
      const old = ['a', 'b', 'c', 'd'].map((id) => task(id));

      // Act
      const plan = reconcileService(input({ service: svc, tasks: [...old, ...failures] }));

      // Assess: a new PRIMARY on revision 1, B FAILED, nothing of B started, events say so.
      const [primary, failed, ...rest] = plan.service?.deployments ?? [];
      expect(primary).toMatchObject({
        status: 'PRIMARY',
        family: 'web',
        revision: 1,
        rolloutState: 'IN_PROGRESS',
      });
      expect(primary?.id).not.toBe(DEP_A);
      expect(failed).toMatchObject({ id: DEP_B, status: 'ACTIVE', rolloutState: 'FAILED', failedTasks: 3 });
      expect(rest).toEqual([]);
      expect(plan.start).toEqual([]);
      expect(plan.events).toEqual([
        `(service web) (deployment ${DEP_B}) deployment failed: tasks failed to start.`,
        `(service web) (deployment ${DEP_B}) deployment failed: rolling back to deployment ${DEP_A}.`,
      ]);
    });

    it('does not trip below the threshold', () => {
      const svc = service({
        desiredCount: 4,
        deploymentConfiguration: config(100, 200, { enable: true, rollback: true }),
        deployments: rollingDeployments(),
      });
      const failures = ['f1', 'f2'].map((id) => failedTask(id, -30, { deploymentId: DEP_B, revision: 2 }));

      const plan = reconcileService(input({ service: svc, tasks: [task('a'), ...failures] }));

      expect(plan.service?.deployments?.[0]).toMatchObject({
        id: DEP_B,
        rolloutState: 'IN_PROGRESS',
        failedTasks: 2,
      });
      expect(plan.events).toEqual([]);
    });

    it('stops starting tasks when the breaker trips without rollback', () => {
      // Prepare: the breaker is on without rollback; three of B's tasks failed.
      const svc = service({
        desiredCount: 2,
        deploymentConfiguration: config(100, 200, { enable: true, rollback: false }),
        deployments: rollingDeployments(),
      });
      const failures = ['f1', 'f2', 'f3'].map((id) =>
        failedTask(id, -300, { deploymentId: DEP_B, revision: 2 }),
      );

      // Act: the pass that trips, and a later pass after it was written.
      const trip = reconcileService(input({ service: svc, tasks: failures }));
      const later = reconcileService(
        input({ service: service({ ...svc, ...trip.service }), tasks: failures, now: T0 + 3600_000 }),
      );

      // Assess
      expect(trip.service?.deployments?.[0]).toMatchObject({
        id: DEP_B,
        status: 'PRIMARY',
        rolloutState: 'FAILED',
      });
      expect(trip.start).toEqual([]);
      expect(trip.events).toEqual([
        `(service web) (deployment ${DEP_B}) deployment failed: tasks failed to start.`,
      ]);
      expect(later.start).toEqual([]);
    });

    it('rolls back to the last completed deployment, never to another failed one', () => {
      // Prepare: R rolled back to revision 1 after B (revision 2) failed; now R fails too.
      const rollback = 'ecs-svc/9000000000000000009';
      const svc = service({
        desiredCount: 2,
        deploymentConfiguration: config(100, 200, { enable: true, rollback: true }),
        deployments: [
          deployment(rollback, { rolloutState: 'IN_PROGRESS', createdAt: at(-60) }),
          deployment(DEP_B, { status: 'ACTIVE', revision: 2, rolloutState: 'FAILED', createdAt: at(-600) }),
        ],
      });
      const failures = ['f1', 'f2', 'f3'].map((id) => failedTask(id, -10, { deploymentId: rollback }));

      const plan = reconcileService(input({ service: svc, tasks: failures }));

      // Assess: R is FAILED and stays PRIMARY; nothing starts revision 2 again.
      expect(plan.service?.deployments?.[0]).toMatchObject({
        id: rollback,
        status: 'PRIMARY',
        rolloutState: 'FAILED',
      });
      expect(plan.service?.deployments?.some((d) => d.status === 'PRIMARY' && d.revision === 2)).toBe(false);
      expect(plan.start).toEqual([]);
    });
  });

  describe('container instances', () => {
    it('stops pending tasks on a DRAINING instance at once and starts their replacements', () => {
      // Prepare: i-1 drains; it holds one pending and one healthy task.
      const state = input({
        instances: instancesOf(instance('i-1', { status: 'DRAINING' }), instance('i-2')),
        tasks: [pendingTask('p'), task('r')],
      });

      const plan = reconcileService(state);

      expect(plan.stop).toEqual([
        { taskId: 'p', reason: 'Container instance is draining.', stopCode: 'ServiceSchedulerInitiated' },
      ]);
      expect(startCount(plan)).toBe(2);
    });

    it('replaces running tasks of a DRAINING instance within min/max, then stops them', () => {
      const instances = instancesOf(instance('i-1', { status: 'DRAINING' }), instance('i-2'));
      const draining = [task('a'), task('b')];

      // Pass 1: replacements start; the draining tasks stay (healthy tasks may not fall below 2).
      const pass1 = reconcileService(input({ instances, tasks: draining }));
      expect(startCount(pass1)).toBe(2);
      expect(pass1.stop).toEqual([]);

      // Pass 2: replacements healthy on i-2: the draining tasks stop.
      const replaced = [task('n1', { instanceId: 'i-2' }), task('n2', { instanceId: 'i-2' })];
      const pass2 = reconcileService(input({ instances, tasks: [...draining, ...replaced] }));
      expect(pass2.start).toEqual([]);
      expect(stoppedIds(pass2)).toEqual(['a', 'b']);
    });

    it('replaces tasks of an instance disconnected longer than berth:replace-after-disconnect and asks them to stop', () => {
      const state = input({
        service: service({ tags: { [replaceAfterDisconnectTag]: '300' } }),
        instances: instancesOf(
          instance('i-1', { agentConnected: false, disconnectedAt: at(-301) }),
          instance('i-2'),
        ),
        tasks: [task('lost', { instanceId: 'i-1' }), task('ok', { instanceId: 'i-2' })],
      });

      const plan = reconcileService(state);

      expect(plan.stop).toEqual([
        {
          taskId: 'lost',
          reason: 'Container instance was disconnected; the task was replaced.',
          stopCode: 'ServiceSchedulerInitiated',
        },
      ]);
      expect(startCount(plan)).toBe(1);
    });

    it('replaces nothing on a disconnected instance without the tag', () => {
      const state = input({
        service: service({ steadySince: at(-3600) }),
        instances: instancesOf(instance('i-1', { agentConnected: false, disconnectedAt: at(-86_400) })),
        tasks: [task('a'), task('b')],
      });

      const plan = reconcileService(state);

      expect(isEmptyPlan(plan)).toBe(true);
    });

    it('asks to be looked at again when a disconnected instance will outlast berth:replace-after-disconnect', () => {
      // Prepare: i-1 went silent 100 s ago; the policy replaces after 300 s; the service is steady.
      const svc = service({ steadySince: at(-3600), tags: { [replaceAfterDisconnectTag]: '300' } });
      const instances = instancesOf(instance('i-1', { agentConnected: false, disconnectedAt: at(-100) }));
      const tasks = [task('a'), task('b')];

      // Act: now, and once the time has come.
      const plan = reconcileService(input({ service: svc, instances, tasks }));
      const due = reconcileService(input({ service: svc, instances, tasks, now: T0 + 200_000 }));

      // Assess: nothing replaced or written yet, but the host is told when to look again.
      expect(isEmptyPlan(plan)).toBe(true);
      expect(plan.recheckAt).toBe(at(200));
      expect(stoppedIds(due)).toEqual(['a', 'b']);
      expect(startCount(due)).toBe(2);
    });

    it('settles a deployment whose old tasks were lost on an instance that never came back', () => {
      // Prepare: B runs its two tasks; A's task sits on i-1, lost and already asked to stop.
      const svc = service({ deployments: rollingDeployments(), tags: { [replaceAfterDisconnectTag]: '0' } });
      const state = input({
        service: svc,
        instances: instancesOf(
          instance('i-1', { agentConnected: false, disconnectedAt: at(-900) }),
          instance('i-2'),
        ),
        tasks: [
          task('old', { desiredStatus: 'STOPPED' }),
          newTask('n1', { instanceId: 'i-2' }),
          newTask('n2', { instanceId: 'i-2' }),
        ],
      });

      const plan = reconcileService(state);

      expect(plan.service?.deployments).toEqual([
        expect.objectContaining({ id: DEP_B, rolloutState: 'COMPLETED' }),
      ]);
      expect(plan.events).toContain(steadyEvent);
    });

    it('finalizes the tasks of a deregistered instance and starts their replacements', () => {
      // Prepare: i-1 is INACTIVE; i-9 is not known at all.
      const state = input({
        instances: instancesOf(
          instance('i-1', { status: 'INACTIVE', agentConnected: false }),
          instance('i-2'),
        ),
        tasks: [task('a'), task('b', { instanceId: 'i-9' })],
      });

      const plan = reconcileService(state);

      expect(plan.finalize).toEqual([
        { taskId: 'a', reason: 'Container instance was deregistered.' },
        { taskId: 'b', reason: 'Container instance was deregistered.' },
      ]);
      expect(plan.stop).toEqual([]);
      expect(startCount(plan)).toBe(2);
    });
  });

  describe('task health', () => {
    it('replaces an unhealthy service task', () => {
      const state = input({
        tasks: [
          task('sick', { hasHealthCheck: true, healthStatus: 'UNHEALTHY' }),
          task('ok', { instanceId: 'i-2' }),
        ],
      });

      const plan = reconcileService(state);

      expect(plan.stop).toEqual([
        {
          taskId: 'sick',
          reason: 'Task failed container health checks.',
          stopCode: 'ServiceSchedulerInitiated',
        },
      ]);
      expect(startCount(plan)).toBe(1);
    });

    it('stops an unhealthy task before starting its replacement when max 100 leaves no room', () => {
      // Prepare: desired 2 with max 100: the stopping task still holds its place until it stopped.
      const state = input({
        service: service({ deploymentConfiguration: config(50, 100) }),
        tasks: [
          task('sick', { hasHealthCheck: true, healthStatus: 'UNHEALTHY' }),
          task('ok', { instanceId: 'i-2' }),
        ],
      });

      const plan = reconcileService(state);
      const afterStop = reconcileService({
        ...state,
        tasks: [
          task('sick', { lastStatus: 'STOPPED', desiredStatus: 'STOPPED' }),
          task('ok', { instanceId: 'i-2' }),
        ],
      });

      expect(stoppedIds(plan)).toEqual(['sick']);
      expect(plan.start).toEqual([]);
      expect(startCount(afterStop)).toBe(1);
    });
  });

  describe('start failures', () => {
    const threeFailures = ['f1', 'f2', 'f3'].map((id, k) => failedTask(id, -15 + k * 5)); // last at -5 s

    it('backs off after repeated start failures and says so once', () => {
      // Act: the first pass after the third failure, and the pass after its write.
      const plan = reconcileService(input({ tasks: threeFailures }));
      const again = reconcileService(input({ service: service({ ...plan.service }), tasks: threeFailures }));

      // Assess: no start until 10 s after the last failure.
      expect(plan.start).toEqual([]);
      expect(plan.recheckAt).toBe(at(5));
      expect(plan.service?.retryAfter).toBe(at(5));
      expect(plan.events).toEqual([
        '(service web) is unable to consistently start tasks successfully. For more information, see the Troubleshooting section of the Amazon ECS Developer Guide.',
      ]);
      expect(again.start).toEqual([]);
      expect(again.events).toEqual([]);
    });

    it('starts again once the backoff ends', () => {
      const svc = service({ retryAfter: at(5) });

      const plan = reconcileService(input({ service: svc, tasks: threeFailures, now: T0 + 6000 }));

      expect(startCount(plan)).toBe(2);
      expect(clears(plan, 'retryAfter')).toBe(true);
      expect(plan.events).toEqual([]);
    });

    it('doubles the wait with each further failure, up to 15 minutes', () => {
      const four = [...threeFailures, failedTask('f4', -10)];
      const many = Array.from({ length: 20 }, (_, k) => failedTask(`f${k}`, -10));

      expect(reconcileService(input({ tasks: four })).recheckAt).toBe(at(15));
      expect(reconcileService(input({ tasks: many })).recheckAt).toBe(at(890));
    });

    it('resets the backoff once a task becomes healthy', () => {
      const recovered = task('ok', { createdAt: at(-8), healthyAt: at(-5) });

      const plan = reconcileService(input({ tasks: [...threeFailures, recovered] }));

      expect(startCount(plan)).toBe(1);
      expect(plan.recheckAt).toBeUndefined();
      expect(plan.events.some((e) => e.includes(backoffEvent))).toBe(false);
    });

    it('does not hold a new task definition back for the failures of the one before', () => {
      // ECS: updating the service to a new task definition ends the throttle at once.
      const svc = service({ deployments: rollingDeployments() });

      const plan = reconcileService(input({ service: svc, tasks: threeFailures }));

      expect(plan.start).toEqual([{ deploymentId: DEP_B, family: 'web', revision: 2, count: 2 }]);
      expect(plan.recheckAt).toBeUndefined();
    });
  });

  describe('deleted services', () => {
    it('stops every task of a DRAINING service, healthy ones included, then becomes INACTIVE', () => {
      const svc = service({ status: 'DRAINING', desiredCount: 0 });
      const tasks = [task('a'), task('b', { instanceId: 'i-2' })];

      const pass1 = reconcileService(input({ service: svc, tasks }));
      const stopping = tasks.map((t) => ({ ...t, desiredStatus: 'STOPPED' as const }));
      const pass2 = reconcileService(input({ service: svc, tasks: stopping }));
      const done = stopping.map((t) => ({ ...t, lastStatus: 'STOPPED' as const }));
      const pass3 = reconcileService(input({ service: svc, tasks: done }));

      expect(stoppedIds(pass1)).toEqual(['a', 'b']);
      expect(pass1.start).toEqual([]);
      expect(pass1.service?.status).toBeUndefined();
      expect(pass2.stop).toEqual([]);
      expect(pass2.service?.status).toBeUndefined();
      expect(pass3.service?.status).toBe('INACTIVE');
    });

    it('becomes INACTIVE even when a task was lost on an instance that never came back', () => {
      const state = input({
        service: service({
          status: 'DRAINING',
          desiredCount: 0,
          tags: { [replaceAfterDisconnectTag]: '60' },
        }),
        instances: instancesOf(instance('i-1', { agentConnected: false, disconnectedAt: at(-600) })),
        tasks: [task('a', { desiredStatus: 'STOPPED' })],
      });

      const plan = reconcileService(state);

      expect(plan.service?.status).toBe('INACTIVE');
    });

    it('returns an empty plan for an INACTIVE service', () => {
      const plan = reconcileService(input({ service: service({ status: 'INACTIVE' }), tasks: [task('a')] }));

      expect(isEmptyPlan(plan)).toBe(true);
    });
  });
});
