import type { RegisterRequest, RegisterResponse, SyncRequest, SyncResponse } from '../core/protocol/agent.ts';
import { readAssignedTask } from '../core/protocol/assigned-task.ts';
import { doorbellAnswerRung } from '../core/protocol/doorbell.ts';
import { httpRequest, NetworkError, retryAfterMsOf } from './http.ts';
import { arrayAt, numberAt, objectAt, parseJson, ShapeError, stringAt } from './shape.ts';

/**
 * core/protocol's `agentApiPrefix`, restated: importing a value from that module would load zod
 * into the agent (see shape.ts). A unit test keeps the two equal.
 */
export const apiPrefix = '/agent/v1';

/** The control plane answered with an error the agent cannot retry its way out of by waiting. */
export class AgentApiError extends Error {
  readonly status: number;
  readonly code: string;
  /** The task whose report the control plane refused, when it named one. */
  readonly taskArn?: string;

  constructor(status: number, code: string, message: string, taskArn?: string) {
    super(message);
    this.status = status;
    this.code = code;
    this.taskArn = taskArn;
  }
}

/** The sync answer, checked for the fields the agent acts on; each task by the shared contract (readAssignedTask). */
export const syncResponseOf = (body: unknown): SyncResponse => {
  const answer = objectAt(body, 'sync answer');
  const acked = arrayAt(answer, 'acked', 'sync answer').map((item) => {
    const ack = objectAt(item, 'ack');
    return { taskArn: stringAt(ack, 'taskArn', 'ack'), seq: numberAt(ack, 'seq', 'ack') };
  });
  const tasks =
    answer.tasks === undefined
      ? undefined
      : arrayAt(answer, 'tasks', 'sync answer').map((item) => {
          const read = readAssignedTask(item);
          if ('problem' in read) throw new ShapeError(read.problem);
          return read.task;
        });
  const heartbeat =
    typeof answer.heartbeatSeconds === 'number' && answer.heartbeatSeconds > 0 ? answer.heartbeatSeconds : 60;
  // Optional: a host without doorbell addresses, or a malformed one, leaves the agent on the API route.
  const doorbell = answer.doorbell as Record<string, unknown> | undefined;
  const address =
    doorbell &&
    typeof doorbell.url === 'string' &&
    typeof doorbell.validForSeconds === 'number' &&
    doorbell.validForSeconds > 0
      ? { url: doorbell.url, validForSeconds: doorbell.validForSeconds }
      : undefined;
  return {
    assignmentVersion: numberAt(answer, 'assignmentVersion', 'sync answer'),
    acked,
    heartbeatSeconds: heartbeat,
    ...(tasks ? { tasks } : {}),
    ...(address ? { doorbell: address } : {}),
  };
};

/** What a doorbell long-poll learnt: rung (or unsure: the agent then syncs), or quiet. */
export type Doorbell = 'rung' | 'quiet';

/** A doorbell address answered with something other than 200 (expired, refused, queue gone). */
export class DoorbellAddressError extends Error {
  readonly status: number;

  constructor(status: number) {
    super(`doorbell address: HTTP ${status}`);
    this.status = status;
  }
}

export type ApiClient = {
  register: (request: RegisterRequest) => Promise<RegisterResponse>;
  doorbell: (waitSeconds: number, signal?: AbortSignal) => Promise<Doorbell>;
  /**
   * Long-polls a doorbell address from a sync answer (on AWS, SQS itself). The agent's token is
   * never sent there: the address is its own credential.
   */
  doorbellAt: (url: string, waitSeconds: number, signal?: AbortSignal) => Promise<Doorbell>;
  sync: (request: SyncRequest, signal?: AbortSignal) => Promise<SyncResponse>;
};

/** Calls the agent API at `endpoint`; 5xx and network failures throw NetworkError (retry), others AgentApiError. */
export const createApiClient = (
  endpoint: string,
  token: () => string | undefined,
  env: Record<string, string | undefined> = process.env,
): ApiClient => {
  const call = async (
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    timeoutMs: number,
    signal?: AbortSignal,
  ) => {
    const bearer = token();
    const response = await httpRequest(
      `${endpoint}${apiPrefix}${path}`,
      {
        method,
        headers: {
          accept: 'application/json',
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        timeoutMs,
        ...(signal ? { signal } : {}),
      },
      env,
    );
    if (response.status >= 500 || response.status === 429) {
      throw new NetworkError(
        `${path}: HTTP ${response.status}`,
        retryAfterMsOf(response.retryAfter, Date.now()),
      );
    }
    if (response.status >= 400) {
      let code = `HTTP${response.status}`;
      let message = response.body.slice(0, 300);
      let taskArn: string | undefined;
      try {
        const parsed = JSON.parse(response.body) as { code?: string; message?: string; taskArn?: unknown };
        code = parsed.code ?? code;
        message = parsed.message ?? message;
        if (typeof parsed.taskArn === 'string') taskArn = parsed.taskArn;
      } catch {}
      throw new AgentApiError(response.status, code, message, taskArn);
    }
    return response.body;
  };
  return {
    register: async (request): Promise<RegisterResponse> => {
      const answer = objectAt(
        parseJson(await call('POST', '/register', request, 30_000), 'register answer'),
        'register answer',
      );
      return {
        containerInstanceArn: stringAt(answer, 'containerInstanceArn', 'register answer'),
        cluster: stringAt(answer, 'cluster', 'register answer'),
        token: stringAt(answer, 'token', 'register answer'),
      };
    },
    doorbell: async (waitSeconds, signal) =>
      doorbellAnswerRung(
        200,
        await call('GET', `/doorbell?wait=${waitSeconds}`, undefined, (waitSeconds + 15) * 1000, signal),
      )
        ? 'rung'
        : 'quiet',
    doorbellAt: async (url, waitSeconds, signal) => {
      const response = await httpRequest(
        new URL(url, endpoint).href,
        {
          method: 'GET',
          headers: { accept: '*/*' },
          timeoutMs: (waitSeconds + 15) * 1000,
          ...(signal ? { signal } : {}),
        },
        env,
      );
      if (response.status !== 200) throw new DoorbellAddressError(response.status);
      return doorbellAnswerRung(200, response.body) ? 'rung' : 'quiet';
    },
    sync: async (request, signal) =>
      syncResponseOf(parseJson(await call('POST', '/sync', request, 30_000, signal), 'sync answer')),
  };
};
