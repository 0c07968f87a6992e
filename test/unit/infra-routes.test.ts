import { describe, expect, it } from 'vitest';
import { httpRoutes, routeKeyOf, routeOf } from '../../core/routes.ts';

const targetOf = (method: string, path: string) => routeOf(method, path)?.target;

describe('route table', () => {
  it('sends the ECS/SSM API (POST /) to the operator handler', () => {
    expect(targetOf('POST', '/')).toBe('operator');
  });

  it('sends every agent route to the agent handler', () => {
    expect(targetOf('POST', '/agent/v1/register')).toBe('agent');
    expect(targetOf('POST', '/agent/v1/sync')).toBe('agent');
    expect(targetOf('GET', '/agent/v1/some/deeper/path')).toBe('agent');
  });

  it('sends the installer and the agent bundle to the agent handler', () => {
    expect(targetOf('GET', '/agent/v1/install.sh')).toBe('agent');
    expect(targetOf('GET', '/agent/v1/berth-agent.mjs')).toBe('agent');
    expect(targetOf('GET', '/agent/v1/berth-agent.mjs.sha256')).toBe('agent');
  });

  it('sends the doorbell long-poll to the SQS integration, not to a Lambda', () => {
    expect(targetOf('GET', '/agent/v1/doorbell')).toBe('doorbell');
    // Only GET is the long-poll; any other method is the agent handler's to refuse.
    expect(targetOf('POST', '/agent/v1/doorbell')).toBe('agent');
  });

  it('matches nothing else, as API Gateway answers 404', () => {
    expect(targetOf('GET', '/')).toBeUndefined();
    expect(targetOf('POST', '/other')).toBeUndefined();
    // A greedy segment needs at least one segment below it.
    expect(targetOf('GET', '/agent/v1')).toBeUndefined();
  });

  it('gives each route a distinct API Gateway route key', () => {
    const routeKeys = httpRoutes.map(routeKeyOf);
    expect(new Set(routeKeys).size).toBe(routeKeys.length);
    expect(routeKeys).toEqual([
      'POST /',
      'ANY /agent/v1/{proxy+}',
      'GET /agent/v1/doorbell',
      'GET /agent/v1/install.sh',
      'GET /agent/v1/berth-agent.mjs',
      'GET /agent/v1/berth-agent.mjs.sha256',
    ]);
  });
});
