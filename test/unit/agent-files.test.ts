import { existsSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Agent } from '../../agent/agent.ts';
import { apiPrefix, syncResponseOf } from '../../agent/client.ts';
import { loadIdentity, saveIdentity } from '../../agent/identity.ts';
import { FakeRuntime } from '../../agent/runtime/fake.ts';
import { emptyState, loadState, saveState, stateFileOf } from '../../agent/state.ts';
import { agentApiPrefix } from '../../core/protocol/agent.ts';

const dir = () => mkdtempSync(join(tmpdir(), 'berth-agent-unit-'));

describe('agent state file', () => {
  it('reads back what it saved, leaving no temp file behind', () => {
    const dataDir = dir();
    const state = emptyState();
    state.assignmentVersion = 7;
    state.pulledImages.push('busybox');
    saveState(dataDir, state);
    expect(loadState(dataDir)).toEqual({ state, fresh: false });
    expect(readdirSync(dataDir)).toEqual(['state.json']);
  });

  it('is written again only when the state changed', () => {
    // Prepare
    const dataDir = dir();
    const agent = new Agent({
      config: {
        endpoint: 'http://127.0.0.1:1',
        dataDir,
        attributes: [],
        reservedMemoryMiB: 0,
        pullBehavior: 'default',
        cleanupWaitSeconds: 60,
        stopTimeoutSeconds: 1,
        restartBackoffSeconds: 1,
        restartBackoffMaxSeconds: 30,
        logLevel: 'silent',
      },
      runtime: new FakeRuntime(),
    });
    agent.saveNow();
    const written = statSync(stateFileOf(dataDir)).ino;
    // Act: nothing changed (a heartbeat), then something did.
    agent.saveNow();
    const unchanged = statSync(stateFileOf(dataDir)).ino;
    agent.state.assignmentVersion = 3;
    agent.saveNow();
    // Assess: each write replaces the file (a new inode); the idle save wrote nothing.
    expect(unchanged).toBe(written);
    expect(statSync(stateFileOf(dataDir)).ino).not.toBe(written);
    expect(loadState(dataDir).state.assignmentVersion).toBe(3);
  });

  it('starts fresh and sets an unreadable state file aside instead of failing', () => {
    const dataDir = dir();
    writeFileSync(stateFileOf(dataDir), '{"format":1,"tasks":');
    const loaded = loadState(dataDir, 42);
    expect(loaded).toMatchObject({ state: emptyState(), fresh: true });
    expect(existsSync(`${stateFileOf(dataDir)}.corrupt-42`)).toBe(true);
  });
});

describe('agent identity file', () => {
  it('is readable and writable by its owner only, and reads back', () => {
    const dataDir = dir();
    const identity = {
      containerInstanceArn: 'arn:aws:ecs:us-east-1:000000000000:container-instance/c/1',
      cluster: 'c',
      token: 'secret_token_value',
      endpoint: 'https://berth.example.com',
      registeredAt: '2026-01-01T00:00:00.000Z',
    };
    saveIdentity(dataDir, identity);
    expect(statSync(join(dataDir, 'identity.json')).mode & 0o777).toBe(0o600);
    expect(loadIdentity(dataDir)).toEqual(identity);
  });
});

describe('agent API client', () => {
  it('calls the paths the server serves', () => {
    expect(apiPrefix).toBe(agentApiPrefix);
  });

  it('reads a sync answer and refuses one missing what the agent acts on', () => {
    const answer = syncResponseOf({
      assignmentVersion: 3,
      acked: [{ taskArn: 'a', seq: 2 }],
      tasks: [{ taskArn: 'a', desiredStatus: 'RUNNING', containers: [] }],
      heartbeatSeconds: 30,
    });
    expect(answer).toMatchObject({
      assignmentVersion: 3,
      heartbeatSeconds: 30,
      tasks: [{ taskArn: 'a', volumes: [] }],
    });
    expect(syncResponseOf({ assignmentVersion: 1, acked: [] }).heartbeatSeconds).toBe(60);
    expect(() => syncResponseOf({ acked: [] })).toThrow(/assignmentVersion/);
    expect(() => syncResponseOf({ assignmentVersion: 1, acked: [], tasks: [{ taskArn: 'a' }] })).toThrow();
  });
});
