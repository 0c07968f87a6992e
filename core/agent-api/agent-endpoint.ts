import type { BerthConfig } from '../config.ts';
import type { Db } from '../db/client.ts';
import type { Doorbell } from '../doorbell/port.ts';
import { type InputProblem, parseInput } from '../ecs/action.ts';
import { createContext } from '../ecs/context.ts';
import { maxRequestBytes } from '../ecs/serve.ts';
import { BerthError, isBerthError, retryAfterSecondsOf } from '../errors.ts';
import { type HttpRequest, type HttpResponse, jsonResponse } from '../http.ts';
import { agentApiPrefix, RegisterRequest, SyncRequest } from '../protocol/agent.ts';
import { authenticateAgent, authenticateDoorbell, invalidAgentToken, syncAgent } from './agent-sync.ts';
import { type AgentFiles, serveAgentFile } from './install-script.ts';
import { registerInstance } from './register-instance.ts';

export type AgentDeps = {
  db: Db;
  config: BerthConfig;
  /**
   * Created at registration; its address goes out with every sync answer (docs/doorbell.md). Its
   * long-poll is answered here only where it waits in-process (`berth up`); on AWS it goes to SQS.
   */
  doorbell?: Doorbell;
  /** The installer and the bundled agent, served to machines that are not registered yet. */
  agentFiles?: AgentFiles;
  now?: () => Date;
  onError?: (error: unknown, context: { route: string }) => void;
};

/** The agent API answers errors with its own JSON and plain HTTP statuses. */
const statusOf = (error: BerthError): number => {
  if (error.code === 'AccessDeniedException') return 403;
  if (error.code === 'TooManyRegistrationFailures') return 429;
  switch (error.kind) {
    case 'input':
      return 400;
    case 'auth':
      return 401;
    case 'not_found':
      return 404;
    case 'conflict':
      return 409;
    case 'unavailable':
      return 503;
    case 'internal':
      return 500;
  }
};

const parseJson = (body: string): unknown => {
  try {
    return JSON.parse(body);
  } catch {
    throw new BerthError('InvalidRequest', 'input', 'The request body is not valid JSON.');
  }
};

/**
 * The sync request, whose refusal names the report at fault (`details.taskArn`) when one report is:
 * the agent then drops that task's reports alone rather than everything it sent.
 */
const parseSyncRequest = (body: unknown): SyncRequest => {
  try {
    return parseInput(SyncRequest, body);
  } catch (error) {
    const path = isBerthError(error) ? (error.details as InputProblem | undefined)?.path : undefined;
    const reports = (body as { reports?: unknown } | null)?.reports;
    const taskArn =
      path?.[0] === 'reports' && typeof path[1] === 'number' && Array.isArray(reports)
        ? reports[path[1]]?.taskArn
        : undefined;
    if (isBerthError(error) && typeof taskArn === 'string' && taskArn.length <= 2048) {
      throw new BerthError(error.code, error.kind, error.message, { taskArn });
    }
    throw error;
  }
};

/** `/agent/v1/…`: registration (and, with the scheduler, sync and the doorbell). */
export const handleAgentRequest = async (deps: AgentDeps, request: HttpRequest): Promise<HttpResponse> => {
  const route = `${request.method} ${request.path}`;
  try {
    if (request.bodyTooLarge || Buffer.byteLength(request.body) > maxRequestBytes) {
      throw new BerthError(
        'InvalidRequest',
        'input',
        `The request body is larger than ${maxRequestBytes} bytes.`,
      );
    }
    const file = deps.agentFiles && (await serveAgentFile(deps.agentFiles, request));
    if (file) return file;
    const context = createContext(deps.db, deps.config, { accessKeyId: 'agent' }, deps.now, deps.doorbell);
    const waiting = deps.doorbell?.waiting;
    if (route === `POST ${agentApiPrefix}/register`) {
      const input = parseInput(RegisterRequest, parseJson(request.body));
      return jsonResponse(200, await registerInstance(context, input, request.sourceIp));
    }
    if (route === `POST ${agentApiPrefix}/sync`) {
      const instance = await authenticateAgent(context, request.headers.authorization);
      const input = parseSyncRequest(parseJson(request.body));
      const [answer, doorbell] = await Promise.all([
        syncAgent(context, instance, input),
        // The reports are applied by now: an address that cannot be made (credentials unavailable)
        // is left out, and the agent polls through the route until the next sync.
        deps.doorbell?.address(instance.id).catch((error: unknown) => {
          deps.onError?.(error, { route: 'doorbell address' });
          return undefined;
        }),
      ]);
      return jsonResponse(200, doorbell ? { ...answer, doorbell } : answer);
    }
    if (route === `GET ${agentApiPrefix}/doorbell/signed` && waiting) {
      // No token: the address's signature names the instance (as a presigned SQS URL does on AWS).
      const address = waiting.instanceOfAddress(new URLSearchParams(request.query));
      if ('refused' in address) throw new BerthError('AccessDeniedException', 'auth', address.refused);
      if (waiting.isDeleted(address.instanceId)) {
        throw new BerthError('NonExistentQueue', 'not_found', 'The instance was deregistered.');
      }
      return jsonResponse(200, { rung: await waiting.wait(address.instanceId, address.wait) });
    }
    if (route === `GET ${agentApiPrefix}/doorbell` && waiting) {
      // As the doorbell's authorizer on AWS: the token's owner, remembered, with no read per poll.
      const owner = await authenticateDoorbell(context, request.headers.authorization);
      if (waiting.isDeleted(owner.instanceId)) throw invalidAgentToken();
      const wait = Number(new URLSearchParams(request.query).get('wait') ?? 20);
      const seconds = Number.isFinite(wait) ? Math.min(20, Math.max(0, wait)) : 20;
      return jsonResponse(200, { rung: await waiting.wait(owner.instanceId, seconds) });
    }
    throw new BerthError('NotFound', 'not_found', `No agent route ${route}.`);
  } catch (error) {
    if (isBerthError(error) && error.kind !== 'internal') {
      const details = error.details as { taskArn?: string } | undefined;
      const response = jsonResponse(statusOf(error), {
        code: error.code,
        message: error.message,
        ...(details?.taskArn ? { taskArn: details.taskArn } : {}),
      });
      const retryAfter = retryAfterSecondsOf(error);
      if (retryAfter !== undefined) response.headers['retry-after'] = String(retryAfter);
      return response;
    }
    deps.onError?.(error, { route });
    return jsonResponse(500, { code: 'InternalError', message: 'An internal error occurred.' });
  }
};
