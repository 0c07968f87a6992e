import { CreateClusterCommand, DescribeTasksCommand, RunTaskCommand } from '@aws-sdk/client-ecs';
import { CreateActivationCommand } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClusterStatus, renderStatus } from '../../cli/status.ts';
import { printable, printableJson } from '../../cli/terminal.ts';
import { watchService } from '../../cli/watch.ts';
import { registerFamily } from '../integration/fixtures.ts';
import { startBerth, type TestBerth } from '../integration/harness.ts';
import { ScriptedAgent } from '../integration/scripted-agent.ts';

/** What a hostile agent sends: a window title, a screen clear, a clipboard write (OSC 52), CSI as C1, a bidi override. */
const hostile = '\u001b]0;owned\u0007\u001b[2J\u001b]52;c;ZXZpbA==\u0007\u009b31m\u202eevil\nsecond line';
/** Whether `text` holds a character a terminal would act on (newlines allowed between lines when `lines`). */
const hasControls = (text: string | undefined, lines = false): boolean =>
  [...(text ?? '')].some((char) => {
    const code = char.charCodeAt(0);
    if (lines && char === '\n') return false;
    return (
      code < 0x20 ||
      (code >= 0x7f && code <= 0x9f) ||
      (code >= 0x202a && code <= 0x202e) ||
      (code >= 0x2066 && code <= 0x2069)
    );
  });

describe("an agent cannot put control characters on an operator's screen", () => {
  let berth: TestBerth;
  beforeAll(async () => {
    berth = await startBerth();
    await berth.ecs.send(new CreateClusterCommand({ clusterName: 'default' }));
  });
  afterAll(async () => berth.stop());

  const register = async (fields: Record<string, unknown>) => {
    const activation = await berth.ssm.send(new CreateActivationCommand({ IamRole: 'berth' }));
    return berth.agent('/register', {
      activationId: activation.ActivationId,
      activationCode: activation.ActivationCode,
      hostname: 'edge-1',
      agentVersion: '0.1.0',
      resources: { cpu: 1024, memory: 1024 },
      ...fields,
    });
  };

  it('refuses a registration whose agentVersion, hostname or attribute value holds control characters', async () => {
    for (const fields of [
      { agentVersion: hostile },
      { agentVersion: '0.1.0\u001b[2J' },
      { hostname: hostile },
      { attributes: [{ name: 'site', value: hostile }] },
    ]) {
      const answer = await register(fields);
      expect(answer.status).toBe(400);
    }
    // The activation of a refused registration was not consumed: the same fields, cleaned, register.
    expect((await register({ agentVersion: '1.2.0-rc.1+abc' })).status).toBe(200);
  });

  it('stores a reported stop reason with its control characters replaced, and acknowledges the report', async () => {
    // A cluster of its own: the instances registered by the test above must not take the task.
    await berth.ecs.send(new CreateClusterCommand({ clusterName: 'injection' }));
    const agent = await ScriptedAgent.register(berth, { cluster: 'injection' });
    await registerFamily(berth, 'injector');
    const run = await berth.ecs.send(
      new RunTaskCommand({ cluster: 'injection', taskDefinition: 'injector' }),
    );
    const taskArn = run.tasks?.[0]?.taskArn ?? '';
    await berth.drain();
    const assigned = await berth.agent('/sync', { assignmentVersion: 0, reports: [] }, agent.token);
    expect(assigned.body.tasks.map((t: { taskArn: string }) => t.taskArn)).toContain(taskArn);
    const stopped = await berth.agent(
      '/sync',
      {
        assignmentVersion: assigned.body.assignmentVersion,
        reports: [
          {
            taskArn,
            seq: 1,
            lastStatus: 'STOPPED',
            stopCode: 'EssentialContainerExited',
            stoppedReason: hostile,
            containers: [{ name: 'app', lastStatus: 'STOPPED', exitCode: 1, reason: hostile }],
          },
        ],
      },
      agent.token,
    );
    expect(stopped.status).toBe(200);
    expect(stopped.body.acked).toEqual([{ taskArn, seq: 1 }]);
    const task = (await berth.ecs.send(new DescribeTasksCommand({ cluster: 'injection', tasks: [taskArn] })))
      .tasks?.[0];
    expect(task?.lastStatus).toBe('STOPPED');
    expect(task?.stoppedReason).toContain('owned');
    expect(hasControls(task?.stoppedReason)).toBe(false);
    expect(hasControls(task?.containers?.[0]?.reason)).toBe(false);
  });

  it('refuses a container name or runtime id with control characters in a report', async () => {
    const agent = await ScriptedAgent.register(berth);
    for (const container of [
      { name: 'app\u001b[2J', lastStatus: 'RUNNING' },
      { name: 'app', lastStatus: 'RUNNING', runtimeId: '\u001b]0;x\u0007' },
      {
        name: 'app',
        lastStatus: 'RUNNING',
        networkBindings: [{ containerPort: 80, hostPort: 80, protocol: 'tcp', bindIP: '\u001b[2J' }],
      },
    ]) {
      const answer = await berth.agent(
        '/sync',
        {
          assignmentVersion: 0,
          reports: [
            {
              taskArn: 'arn:aws:ecs:us-east-1:000000000000:task/default/x',
              seq: 1,
              lastStatus: 'RUNNING',
              containers: [container],
            },
          ],
        },
        agent.token,
      );
      expect(answer.status).toBe(400);
    }
  });
});

describe('the CLI prints what the control plane answered as text, never as control', () => {
  it('printable escapes every control character and keeps the rest', () => {
    expect(printable('web \u00e9t\u00e9 \u4e2d')).toBe('web \u00e9t\u00e9 \u4e2d');
    const shown = printable(hostile);
    expect(hasControls(shown)).toBe(false);
    expect(shown).toContain('\\x1b]0;owned\\x07');
    expect(shown).toContain('\\x9b31m');
    expect(shown).toContain('\\u202eevil\\nsecond line');
  });

  it('berth status escapes an agent version, a reason and a service event stored raw (from before the limits)', () => {
    const cluster: ClusterStatus = {
      clusterName: 'default',
      status: 'ACTIVE',
      instances: [
        {
          containerInstanceArn: 'arn:aws:ecs:us-east-1:000000000000:container-instance/default/abc',
          status: 'ACTIVE',
          agentConnected: true,
          lastSeen: 'within 3m',
          cpu: { used: 0, registered: 1024 },
          memory: { used: 0, registered: 1024 },
          runningTasks: 0,
          pendingTasks: 0,
          agentVersion: hostile,
        },
      ],
      services: [
        {
          serviceName: 'web',
          status: 'ACTIVE',
          desired: 1,
          running: 0,
          pending: 0,
          deployments: [],
          lastEvent: { createdAt: new Date().toISOString(), message: hostile },
        },
      ],
      stoppedTasks: [
        {
          taskArn: 'arn:aws:ecs:us-east-1:000000000000:task/default/0123456789abcdef',
          taskDefinition: 'web:1',
          stoppedReason: hostile,
          containers: [{ name: 'app', exitCode: 1, reason: hostile }],
        },
      ],
      stoppedTasksTotal: 1,
    };
    const screen = renderStatus([cluster], new Date());
    expect(hasControls(screen, true)).toBe(false);
    expect(screen).toContain('\\x1b]52;c;ZXZpbA==\\x07');
    const json = printableJson({ clusters: [cluster] }, 2);
    expect(hasControls(json, true)).toBe(false);
    expect(JSON.parse(json)).toEqual({ clusters: [cluster] });
  });

  it('berth watch escapes service events', async () => {
    let written = '';
    const now = new Date();
    const ecs = {
      send: async () => ({
        services: [
          {
            serviceName: 'web',
            status: 'ACTIVE',
            clusterArn: 'arn:aws:ecs:us-east-1:000000000000:cluster/default',
            desiredCount: 1,
            runningCount: 1,
            pendingCount: 0,
            deployments: [
              {
                id: 'ecs-svc/1',
                status: 'PRIMARY',
                taskDefinition: 'web:1',
                desiredCount: 1,
                runningCount: 1,
                pendingCount: 0,
                rolloutState: 'COMPLETED',
                createdAt: now,
              },
            ],
            events: [{ id: 'e1', createdAt: now, message: hostile }],
          },
        ],
      }),
    };
    const result = await watchService({
      // biome-ignore lint/suspicious/noExplicitAny: a canned DescribeServices answer stands for the client
      ecs: ecs as any,
      service: 'web',
      timeoutSeconds: 5,
      intervalMs: 10,
      write: (text) => {
        written += text;
      },
      tty: false,
    });
    expect(result).toBe('steady');
    expect(written).toContain('\\x1b]0;owned\\x07');
    expect(hasControls(written, true)).toBe(false);
  });
});
