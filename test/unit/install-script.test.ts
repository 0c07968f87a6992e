import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type AgentFiles,
  publicEndpointOf,
  renderInstallScript,
  serveAgentFile,
} from '../../core/agent-api/install-script.ts';
import type { HttpRequest } from '../../core/http.ts';
import { agentFilesDir, packagedAgentFiles } from '../../functions/agent-files.ts';

const template = readFileSync(new URL('../../scripts/install.sh', import.meta.url), 'utf8');
const bundle = 'console.log("agent");\n';
const sha256 = createHash('sha256').update(bundle).digest('hex');
const files: AgentFiles = { installTemplate: async () => template, agentBundle: async () => bundle };

const get = (path: string, headers: Record<string, string> = { host: '127.0.0.1:9400' }): HttpRequest => ({
  method: 'GET',
  path,
  query: '',
  headers,
  body: '',
});

describe('the installer the control plane serves', () => {
  it('carries the endpoint it was requested from and the sha256 of the agent it will download', async () => {
    // Act
    const response = await serveAgentFile(files, get('/agent/v1/install.sh'));

    // Assess
    expect(response?.statusCode).toBe(200);
    expect(response?.headers['content-type']).toBe('text/x-shellscript; charset=utf-8');
    expect(response?.body).toContain("\nendpoint_default='http://127.0.0.1:9400'\n");
    expect(response?.body).toContain(`\nagent_sha256_default='${sha256}'\n`);
    // Nothing else of the template changed.
    expect(response?.body.split('\n').length).toBe(template.split('\n').length);
  });

  it('uses https when API Gateway says the request came in over https', () => {
    expect(
      publicEndpointOf({
        headers: { host: 'abc123.execute-api.eu-west-1.amazonaws.com', 'x-forwarded-proto': 'https' },
      }),
    ).toBe('https://abc123.execute-api.eu-west-1.amazonaws.com');
  });

  it('refuses a Host header that would inject shell into a script piped to sudo bash', async () => {
    // Act
    const response = await serveAgentFile(files, get('/agent/v1/install.sh', { host: "x'$(reboot)'" }));

    // Assess
    expect(response?.statusCode).toBe(400);
    expect(publicEndpointOf({ headers: { host: 'a b' } })).toBeUndefined();
    expect(
      publicEndpointOf({ headers: { host: 'ok.example', 'x-forwarded-proto': 'gopher' } }),
    ).toBeUndefined();
    expect(() => renderInstallScript(template, { endpoint: "http://x'; rm -rf /", sha256 })).toThrow();
  });

  it('serves the agent and its checksum in sha256sum format, and nothing for other paths', async () => {
    // Act
    const agent = await serveAgentFile(files, get('/agent/v1/berth-agent.mjs'));
    const checksum = await serveAgentFile(files, get('/agent/v1/berth-agent.mjs.sha256'));
    const other = await serveAgentFile(files, get('/agent/v1/sync'));

    // Assess
    expect(agent?.body).toBe(bundle);
    expect(checksum?.body).toBe(`${sha256}  berth-agent.mjs\n`);
    expect(other).toBeUndefined();
  });

  it('answers 404 with a hint when the control plane has no agent bundle', async () => {
    // Act
    const response = await serveAgentFile(
      { installTemplate: async () => template, agentBundle: async () => undefined },
      get('/agent/v1/install.sh'),
    );

    // Assess
    expect(response?.statusCode).toBe(404);
    expect(response?.body).toContain('npm run build:agent');
  });
});

describe('the agent files packaged with the AgentApi function', () => {
  const root = mkdtempSync(join(tmpdir(), 'berth-lambda-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('reads the installer and the agent from the agent-files folder of the package', async () => {
    // Prepare
    mkdirSync(join(root, agentFilesDir));
    writeFileSync(join(root, agentFilesDir, 'install.sh'), template);
    writeFileSync(join(root, agentFilesDir, 'berth-agent.mjs'), bundle);

    // Act
    const packaged = packagedAgentFiles(root);

    // Assess
    expect(await packaged.installTemplate()).toBe(template);
    expect(await packaged.agentBundle()).toBe(bundle);
    expect(await packagedAgentFiles(join(root, 'missing')).agentBundle()).toBeUndefined();
  });
});
