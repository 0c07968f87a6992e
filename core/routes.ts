import { agentApiPrefix } from './protocol/agent.ts';

/**
 * The HTTP routes of a stage, as plain data: infra/ creates one API Gateway route per entry and
 * `berth up` can route with `routeOf`, so both send a request to the same place.
 */
export type RouteTarget =
  /** The ECS/SSM operator API (AWS JSON 1.1, SigV4): functions/ecs-api. */
  | 'operator'
  /** The agent API: functions/agent-api. */
  | 'agent'
  /** The doorbell long-poll: on AWS an SQS ReceiveMessage integration (no Lambda waits). */
  | 'doorbell';

export type RouteEntry = { readonly method: string; readonly path: string; readonly target: RouteTarget };

export const httpRoutes = [
  { method: 'POST', path: '/', target: 'operator' },
  { method: 'ANY', path: `${agentApiPrefix}/{proxy+}`, target: 'agent' },
  // More specific than the greedy agent route, so API Gateway picks it for this one path.
  { method: 'GET', path: `${agentApiPrefix}/doorbell`, target: 'doorbell' },
  // The installer and the agent it downloads (core/agent-api/install-script.ts): the greedy route would
  // reach the same handler; listed so that every unauthenticated route a stage exposes is here.
  { method: 'GET', path: `${agentApiPrefix}/install.sh`, target: 'agent' },
  { method: 'GET', path: `${agentApiPrefix}/berth-agent.mjs`, target: 'agent' },
  { method: 'GET', path: `${agentApiPrefix}/berth-agent.mjs.sha256`, target: 'agent' },
] as const satisfies readonly RouteEntry[];

/** API Gateway's route key: `POST /`, `ANY /agent/v1/{proxy+}`. */
export const routeKeyOf = (route: RouteEntry): string => `${route.method} ${route.path}`;

const segmentsOf = (path: string): string[] => path.split('/').filter((segment) => segment !== '');

/** How well a route matches: undefined for no match; higher is more specific (API Gateway's rule). */
const matchScore = (route: RouteEntry, method: string, path: string): number | undefined => {
  if (route.method !== 'ANY' && route.method !== method.toUpperCase()) return undefined;
  const pattern = segmentsOf(route.path);
  const actual = segmentsOf(path);
  const greedy = pattern.at(-1)?.endsWith('+}') ?? false;
  const fixed = greedy ? pattern.slice(0, -1) : pattern;
  // A greedy segment matches one or more segments, never none.
  if (greedy ? actual.length <= fixed.length : actual.length !== fixed.length) return undefined;
  let literal = 0;
  for (const [index, segment] of fixed.entries()) {
    if (segment.startsWith('{')) continue;
    if (segment !== actual[index]) return undefined;
    literal += 1;
  }
  // Full literal paths beat parameters, which beat greedy paths; a given method beats ANY.
  return (greedy ? 0 : 1000) + literal * 10 + (route.method === 'ANY' ? 0 : 1);
};

/** The route API Gateway would choose for a request, or undefined (API Gateway answers 404). */
export const routeOf = (
  method: string,
  path: string,
  routes: readonly RouteEntry[] = httpRoutes,
): RouteEntry | undefined => {
  let best: { route: RouteEntry; score: number } | undefined;
  for (const route of routes) {
    const score = matchScore(route, method, path);
    if (score !== undefined && (!best || score > best.score)) best = { route, score };
  }
  return best?.route;
};
