import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { flushMetrics, logger } from './deps.ts';

/**
 * Every Lambda of a stage, wrapped the same way: the logger carries the invocation's context
 * (request id, cold start), and the metrics the handler added are written once, as one EMF line,
 * whether it returned or threw. A handler module is then its core call and its own metrics.
 */
export const lambdaHandler = <Event, Result>(handle: (event: Event, context: Context) => Promise<Result>) =>
  middy(handle).use(injectLambdaContext(logger)).use({ after: flushMetrics, onError: flushMetrics });
