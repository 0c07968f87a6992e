import { describe, expect, it } from 'vitest';
import { replaceAfterDisconnectTag } from '../../core/model/service.ts';
import { isServiceDue, silenceOf, stuckTasksOf } from '../../core/reconcile/sweep-rules.ts';
import { at, pendingTask, service, T0, task } from './reconcile-fixtures.ts';

const instance = (
  id: string,
  overrides: Partial<{
    status: 'ACTIVE' | 'DRAINING' | 'INACTIVE';
    agentConnected: boolean;
    disconnectedAt: string;
  }> = {},
) => ({ id, status: 'ACTIVE' as const, agentConnected: true, registeredAt: at(-3600), ...overrides });

describe('silenceOf', () => {
  it('disconnects a connected instance silent for longer than the grace period, and only that one', () => {
    const heartbeats = new Map([
      ['i-quiet', at(-61)],
      ['i-heard', at(-59)],
    ]);
    const silence = silenceOf([instance('i-quiet'), instance('i-heard')], heartbeats, T0, 60);
    expect(silence.toDisconnect).toEqual(['i-quiet']);
    expect([...silence.silentSince]).toEqual([]);
  });

  it('counts from registration when an instance never sent a heartbeat', () => {
    const fresh = { ...instance('i-new'), registeredAt: at(-10) };
    const old = { ...instance('i-old'), registeredAt: at(-100) };
    expect(silenceOf([fresh, old], new Map(), T0, 60).toDisconnect).toEqual(['i-old']);
  });

  it('reports when each disconnected instance went silent, from now when it was not recorded', () => {
    const silence = silenceOf(
      [
        instance('i-1', { agentConnected: false, disconnectedAt: at(-300) }),
        instance('i-2', { agentConnected: false }),
        instance('i-gone', { status: 'INACTIVE', agentConnected: false, disconnectedAt: at(-900) }),
      ],
      new Map(),
      T0,
      60,
    );
    expect(silence.toDisconnect).toEqual([]);
    expect(silence.silentSince).toEqual(
      new Map([
        ['i-1', T0 - 300_000],
        ['i-2', T0],
      ]),
    );
  });

  it('never disconnects a deregistered instance', () => {
    expect(silenceOf([instance('i-x', { status: 'INACTIVE' })], new Map(), T0, 1).toDisconnect).toEqual([]);
  });
});

describe('stuckTasksOf', () => {
  it('finds tasks meant to run still PROVISIONING or PENDING past the timeout', () => {
    const tasks = [
      pendingTask('late', { createdAt: at(-301) }),
      pendingTask('provisioning', { lastStatus: 'PROVISIONING', createdAt: at(-400) }),
      pendingTask('in-time', { createdAt: at(-299) }),
      pendingTask('being-stopped', { desiredStatus: 'STOPPED', createdAt: at(-900) }),
      task('running', { createdAt: at(-900) }),
    ];
    expect(stuckTasksOf(tasks, T0, 300).map((t) => t.id)).toEqual(['late', 'provisioning']);
  });
});

describe('isServiceDue', () => {
  const steady = { steadySince: at(-60) };

  it('is due while not steady, or once its backoff is over', () => {
    expect(isServiceDue(service(), [], new Map(), T0)).toBe(true);
    expect(isServiceDue(service(steady), [], new Map(), T0)).toBe(false);
    expect(isServiceDue(service({ ...steady, retryAfter: at(0) }), [], new Map(), T0)).toBe(true);
    expect(isServiceDue(service({ ...steady, retryAfter: at(1) }), [], new Map(), T0)).toBe(false);
  });

  it('is due when a task sits on an instance silent for at least the replace-after-disconnect policy', () => {
    const withPolicy = service({ ...steady, tags: { [replaceAfterDisconnectTag]: '120' } });
    const tasks = [task('t-1', { instanceId: 'i-1' })];
    expect(isServiceDue(withPolicy, tasks, new Map([['i-1', T0 - 120_000]]), T0)).toBe(true);
    expect(isServiceDue(withPolicy, tasks, new Map([['i-1', T0 - 119_000]]), T0)).toBe(false);
    // Without the policy silence never makes a steady service due; nor a task of another service,
    // one being stopped, or one on a connected instance.
    expect(isServiceDue(service(steady), tasks, new Map([['i-1', 0]]), T0)).toBe(false);
    const others = [
      task('other', { serviceName: 'api', instanceId: 'i-1' }),
      task('stopping', { desiredStatus: 'STOPPED', instanceId: 'i-1' }),
      task('elsewhere', { instanceId: 'i-2' }),
    ];
    expect(isServiceDue(withPolicy, others, new Map([['i-1', 0]]), T0)).toBe(false);
  });
});
