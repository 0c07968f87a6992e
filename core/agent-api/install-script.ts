import { createHash } from 'node:crypto';
import type { HttpRequest, HttpResponse } from '../http.ts';
import { agentApiPrefix } from '../protocol/agent.ts';

/**
 * Where the installer template and the bundled agent come from: files next to the handler on AWS
 * (functions/agent-files.ts), the repository locally (local/agent-files.ts). Both are read only
 * when an install route is called, so the sync path never pays for them.
 */
export type AgentFiles = {
  /** scripts/install.sh, with its placeholders. */
  installTemplate: () => Promise<string>;
  /** dist/berth-agent.mjs; undefined when this control plane has no agent bundle to hand out. */
  agentBundle: () => Promise<string | undefined>;
};

/** The three public, unauthenticated install routes (GET). */
export const agentFileRoutes = {
  installScript: `${agentApiPrefix}/install.sh`,
  agentBundle: `${agentApiPrefix}/berth-agent.mjs`,
  agentBundleSha256: `${agentApiPrefix}/berth-agent.mjs.sha256`,
} as const;

/** The placeholders of scripts/install.sh, replaced when it is served. */
export const installPlaceholders = {
  endpoint: '__BERTH_ENDPOINT__',
  sha256: '__BERTH_AGENT_SHA256__',
} as const;

/** Hex sha256 of a text's UTF-8 bytes (what is sent, byte for byte). */
export const sha256Of = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/**
 * A URL safe to paste inside single quotes of a shell script: the endpoint comes from request
 * headers, and the script it lands in is piped to `sudo bash`, so nothing but an origin (and an
 * optional plain path) may pass.
 */
const safeEndpoint = /^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?(\/[A-Za-z0-9._~-]+)*$/;

/**
 * The endpoint an installer should call back: the origin the request was sent to, as the client
 * saw it (API Gateway and proxies say the scheme in x-forwarded-proto). Undefined when the headers
 * do not make a safe URL.
 */
export const publicEndpointOf = (request: Pick<HttpRequest, 'headers'>): string | undefined => {
  const host = request.headers.host;
  const proto = (request.headers['x-forwarded-proto'] ?? 'http').split(',')[0]?.trim();
  if (!host || (proto !== 'http' && proto !== 'https')) return undefined;
  const endpoint = `${proto}://${host}`;
  return safeEndpoint.test(endpoint) ? endpoint : undefined;
};

/** The installer with this control plane's endpoint and the agent bundle's checksum filled in. */
export const renderInstallScript = (
  template: string,
  values: { endpoint: string; sha256: string },
): string => {
  if (!safeEndpoint.test(values.endpoint))
    throw new Error(`Unsafe endpoint for the installer: ${values.endpoint}`);
  if (!/^[0-9a-f]{64}$/.test(values.sha256)) throw new Error('The agent checksum must be 64 hex digits.');
  // Each placeholder appears once, as a quoted assignment: `endpoint_default='__BERTH_ENDPOINT__'`.
  return template
    .replace(`'${installPlaceholders.endpoint}'`, `'${values.endpoint}'`)
    .replace(`'${installPlaceholders.sha256}'`, `'${values.sha256}'`);
};

const textResponse = (statusCode: number, contentType: string, body: string): HttpResponse => ({
  statusCode,
  // Not cached: re-running the installer after a deploy must get the new agent and its checksum.
  headers: { 'content-type': contentType, 'cache-control': 'no-store' },
  body,
});

const noBundle = () =>
  textResponse(
    404,
    'text/plain; charset=utf-8',
    'This control plane has no agent bundle to hand out (build it with `npm run build:agent`).\n',
  );

/** Hashes each bundle text once: the same string comes back until the file changes. */
const checksums = new WeakMap<object, { text: string; sha256: string }>();
const checksumOf = (files: AgentFiles, text: string): string => {
  const known = checksums.get(files);
  if (known?.text === text) return known.sha256;
  const sha256 = sha256Of(text);
  checksums.set(files, { text, sha256 });
  return sha256;
};

/**
 * Serves `GET /agent/v1/install.sh`, `…/berth-agent.mjs` and `…/berth-agent.mjs.sha256`;
 * undefined for any other request. The script carries the bundle's sha256, so the bundle it
 * downloads next is checked against what the same control plane served a moment before.
 */
export const serveAgentFile = async (
  files: AgentFiles,
  request: HttpRequest,
): Promise<HttpResponse | undefined> => {
  if (request.method !== 'GET' && request.method !== 'HEAD') return undefined;
  switch (request.path) {
    case agentFileRoutes.installScript: {
      const bundle = await files.agentBundle();
      if (bundle === undefined) return noBundle();
      const endpoint = publicEndpointOf(request);
      if (!endpoint) {
        return textResponse(
          400,
          'text/plain; charset=utf-8',
          'The Host header does not make a usable URL.\n',
        );
      }
      const script = renderInstallScript(await files.installTemplate(), {
        endpoint,
        sha256: checksumOf(files, bundle),
      });
      return textResponse(200, 'text/x-shellscript; charset=utf-8', script);
    }
    case agentFileRoutes.agentBundle: {
      const bundle = await files.agentBundle();
      return bundle === undefined ? noBundle() : textResponse(200, 'text/javascript; charset=utf-8', bundle);
    }
    case agentFileRoutes.agentBundleSha256: {
      const bundle = await files.agentBundle();
      // sha256sum's format, so `sha256sum -c` reads it next to the file.
      return bundle === undefined
        ? noBundle()
        : textResponse(200, 'text/plain; charset=utf-8', `${checksumOf(files, bundle)}  berth-agent.mjs\n`);
    }
    default:
      return undefined;
  }
};
