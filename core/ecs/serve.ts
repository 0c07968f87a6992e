import { randomUUID } from 'node:crypto';
import type { Sealer } from '../auth/seal.ts';
import type { SecretLookup } from '../auth/sigv4.ts';
import { verifySigV4 } from '../auth/sigv4.ts';
import type { BerthConfig } from '../config.ts';
import type { Db } from '../db/client.ts';
import type { Doorbell } from '../doorbell/port.ts';
import { BerthError, clientError, httpStatusOf, isBerthError, retryAfterSecondsOf } from '../errors.ts';
import type { HttpRequest, HttpResponse } from '../http.ts';
import { parseInput } from './action.ts';
import { actions, localActions, serviceOfTarget } from './actions.ts';
import { createContext } from './context.ts';

/** ECS task definitions are at most 64 KiB; twice that leaves room for every other request. */
export const maxRequestBytes = 128 * 1024;

export type OperatorDeps = {
  db: Db;
  config: BerthConfig;
  lookupSecret: SecretLookup;
  now?: () => Date;
  doorbell?: Doorbell;
  /**
   * The sealing key of the local AWS services (core/local-aws/): given by `berth up`, which then
   * serves them too; a stage leaves it out (AWS serves them there).
   */
  sealer?: Sealer;
  /** Called with unexpected errors, which are answered without their details. */
  onError?: (error: unknown, context: { target?: string; requestId: string }) => void;
};

const amzJson = 'application/x-amz-json-1.1';

const errorResponse = (error: BerthError, requestId: string): HttpResponse => {
  const retryAfter = retryAfterSecondsOf(error);
  return {
    statusCode: httpStatusOf(error.kind) === 403 ? 400 : httpStatusOf(error.kind),
    headers: {
      'content-type': amzJson,
      'x-amzn-requestid': requestId,
      'x-amzn-errortype': error.code,
      ...(retryAfter !== undefined ? { 'retry-after': String(retryAfter) } : {}),
    },
    body: JSON.stringify({ __type: error.code, message: error.message }),
  };
};

/** A signature is only good for the service and region it was made for, as on AWS. */
const checkScope = (caller: { region: string; service: string }, target: string, config: BerthConfig) => {
  const service = serviceOfTarget(target);
  if (caller.service !== service) {
    throw new BerthError(
      'InvalidSignatureException',
      'auth',
      `Credential should be scoped to correct service: '${service}'.`,
    );
  }
  if (caller.region !== config.region) {
    throw new BerthError(
      'InvalidSignatureException',
      'auth',
      `Credential should be scoped to a valid region. This endpoint serves '${config.region}', not '${caller.region}'.`,
    );
  }
};

const parseBody = (body: string): unknown => {
  if (body.trim() === '') return {};
  try {
    return JSON.parse(body);
  } catch {
    throw new BerthError('SerializationException', 'input', 'The request body is not valid JSON.');
  }
};

/**
 * The operator endpoint: `POST /` with AWS JSON 1.1, signed with SigV4 by one of Berth's keys.
 * Verifies, routes by `X-Amz-Target`, validates, runs the action, and answers in ECS's shapes.
 */
export const handleOperatorRequest = async (
  deps: OperatorDeps,
  request: HttpRequest,
): Promise<HttpResponse> => {
  const requestId = randomUUID();
  const target = request.headers['x-amz-target'];
  try {
    if (request.bodyTooLarge || Buffer.byteLength(request.body) > maxRequestBytes) {
      throw clientError(`The request body is larger than ${maxRequestBytes} bytes.`);
    }
    if (request.method !== 'POST') {
      throw new BerthError('UnknownOperationException', 'input', 'Operations are POSTed to /.');
    }
    const now = deps.now ?? (() => new Date());
    const caller = await verifySigV4(request, deps.lookupSecret, now());
    const action = target ? (actions[target] ?? (deps.sealer ? localActions[target] : undefined)) : undefined;
    if (!action)
      throw new BerthError('UnknownOperationException', 'input', `Unknown operation ${target ?? ''}`.trim());
    checkScope(caller, target ?? '', deps.config);
    // SSM calls every bad input a ValidationException; ECS an InvalidParameterException.
    const input = parseInput(
      action.input,
      parseBody(request.body),
      serviceOfTarget(target ?? '') === 'ssm' ? 'ValidationException' : 'InvalidParameterException',
    );
    const context = {
      ...createContext(deps.db, deps.config, { accessKeyId: caller.accessKeyId }, now, deps.doorbell),
      ...(deps.sealer ? { sealer: deps.sealer } : {}),
    };
    const output = await action.run(context, input);
    return {
      statusCode: 200,
      headers: { 'content-type': amzJson, 'x-amzn-requestid': requestId },
      body: JSON.stringify(output ?? {}),
    };
  } catch (error) {
    if (isBerthError(error) && error.kind !== 'internal') return errorResponse(error, requestId);
    deps.onError?.(error, { target, requestId });
    const server = new BerthError(
      target?.startsWith('AmazonSSM.') ? 'InternalServerError' : 'ServerException',
      'internal',
      'An internal error occurred.',
    );
    return errorResponse(server, requestId);
  }
};
