import {
  type Compatibility,
  type ContainerDefinition,
  CreateServiceCommand,
  type CreateServiceCommandInput,
  DescribeServicesCommand,
  RegisterTaskDefinitionCommand,
  type Service,
  type Task,
} from '@aws-sdk/client-ecs';
import type { TestBerth } from './harness.ts';
import { fleet, type ScriptedAgent, settle } from './scripted-agent.ts';

/** The last part of an ARN (a task's or an instance's id); '' for none. */
export const idOf = (arn: string | undefined) => arn?.split('/').at(-1) ?? '';

/** The tasks that are RUNNING and meant to stay so. */
export const runningOf = (tasks: Task[]) =>
  tasks.filter((task) => task.lastStatus === 'RUNNING' && task.desiredStatus === 'RUNNING');

/** The error a call fails with; throws when it succeeds. */
export const errorOf = async (promise: Promise<unknown>) => {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the call to fail');
};

/** How a family's revisions differ from one essential container 'app': busybox, 256 CPU units, 256 MiB. */
export type FamilyShape = {
  requiresCompatibilities?: Compatibility[];
  /** Fields of the container that replace or add to the defaults, for each revision. */
  container?: (revision: number, family: string) => Partial<ContainerDefinition>;
};

/** Registers revisions 1 to `revisions` of a one-container family; answers the ARN of the last. */
export const registerFamily = async (
  berth: TestBerth,
  family: string,
  revisions = 1,
  { requiresCompatibilities, container = () => ({}) }: FamilyShape = {},
): Promise<string> => {
  let arn = '';
  for (let revision = 1; revision <= revisions; revision++) {
    const answer = await berth.ecs.send(
      new RegisterTaskDefinitionCommand({
        family,
        requiresCompatibilities,
        containerDefinitions: [
          {
            name: 'app',
            image: 'busybox',
            cpu: 256,
            memory: 256,
            essential: true,
            ...container(revision, family),
          },
        ],
      }),
    );
    arn = answer.taskDefinition?.taskDefinitionArn ?? '';
  }
  return arn;
};

/** DescribeServices for one service; throws when it is not found. */
export const describeService = async (
  berth: TestBerth,
  cluster: string,
  service: string,
): Promise<Service> => {
  const answer = await berth.ecs.send(new DescribeServicesCommand({ cluster, services: [service] }));
  const found = answer.services?.[0];
  if (!found) throw new Error(`service ${service} not found: ${JSON.stringify(answer.failures)}`);
  return found;
};

/** Service web (3 tasks, breaker with rollback) on 3 new agents, settled; its revision 2 fails to start. */
export const breakerService = async (
  berth: TestBerth,
  cluster: string,
  shape: { family?: FamilyShape; service?: Partial<CreateServiceCommandInput> } = {},
): Promise<ScriptedAgent[]> => {
  const family = `${cluster}-web`;
  const agents = await fleet(berth, cluster, 3);
  await registerFamily(berth, family, 2, shape.family);
  for (const agent of agents) agent.failing.add(`${family}:2`);
  await berth.ecs.send(
    new CreateServiceCommand({
      ...shape.service,
      cluster,
      serviceName: 'web',
      taskDefinition: `${family}:1`,
      desiredCount: 3,
      deploymentConfiguration: { deploymentCircuitBreaker: { enable: true, rollback: true } },
    }),
  );
  await settle(berth, agents);
  return agents;
};
