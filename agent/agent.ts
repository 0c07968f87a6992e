import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { SyncRequest, SyncResponse } from '../core/protocol/agent.ts';
import { jitteredBackoff, retryDelay, sleep } from './backoff.ts';
import { AgentApiError, type ApiClient, createApiClient } from './client.ts';
import type { AgentConfig } from './config.ts';
import { DoorbellLoop } from './doorbell-loop.ts';
import { type EngineSettings, TaskEngine } from './engine.ts';
import { readTextIfExists } from './files.ts';
import { type Identity, loadIdentity } from './identity.ts';
import { lockDataDir } from './lock.ts';
import { createLogger, type Logger } from './log.ts';
import { register } from './register.ts';
import { refusedReports, reportBatch, reportsDueIn } from './reports.ts';
import { hostResources } from './resources.ts';
import type { ContainerRuntime, RegistryAuth } from './runtime/types.ts';
import { type AgentState, loadState, saveStateText, stateText } from './state.ts';

export type AgentOptions = {
  config: AgentConfig;
  runtime: ContainerRuntime;
  log?: Logger;
  /** Where proxy variables are read (process.env by default). */
  env?: Record<string, string | undefined>;
  random?: () => number;
  /** Seconds a doorbell long-poll waits (the server caps it at 20). */
  doorbellWaitSeconds?: number;
  /** How often every container is inspected in case an engine event was missed. */
  observeIntervalMs?: number;
  /** Called after each successful sync (tests and the benchmark watch the exchange). */
  onSync?: (request: SyncRequest, response: SyncResponse) => void;
};

/** The most reports one sync carries (the server's limit). */
const maxReportsPerSync = 200;
const linkBackoff = { baseMs: 500, maxMs: 30_000 };
/** How long a report of a task still PENDING waits for the RUNNING that usually follows it. */
const pendingReportGraceMs = 1_000;

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * The edge agent: registers once (register.ts), then keeps two loops — a doorbell long-poll
 * (doorbell-loop.ts), and syncs (when rung, when unsure, when a report waits, when the heartbeat is
 * due) — while the task engine drives the container runtime. It works without the control plane
 * from the first second: state and identity are on disk, containers are found by label.
 */
export class Agent {
  readonly log: Logger;
  readonly state: AgentState;
  readonly engine: TaskEngine;
  identity: Identity | undefined;
  /** Whether the last exchange with the control plane succeeded. */
  online = false;
  private client?: ApiClient;
  private readonly abort = new AbortController();
  private loops: Promise<void>[] = [];
  private wakeUp?: () => void;
  private woken = false;
  private syncWanted = true;
  private forceFullSet: boolean;
  private sentResources = false;
  private lastSyncAt = 0;
  private heartbeatMs = 60_000;
  private saveTimer?: NodeJS.Timeout;
  /** What the state file holds, as this agent last wrote it. */
  private savedText?: string;
  private lastSent: { taskArn: string; seq: number }[] = [];
  /** Settles once the first sync was tried: the first long-poll waits for it (and its address). */
  private firstSyncTried!: () => void;
  private readonly firstSync = new Promise<void>((resolve) => {
    this.firstSyncTried = resolve;
  });
  private releaseDataDir?: () => void;
  private readonly random: () => number;
  private readonly settings: EngineSettings;
  private readonly doorbell: DoorbellLoop;

  private readonly options: AgentOptions;

  constructor(options: AgentOptions) {
    this.options = options;
    const { config } = options;
    this.log = options.log ?? createLogger(config.logLevel);
    this.random = options.random ?? Math.random;
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    this.identity = loadIdentity(config.dataDir);
    const loaded = loadState(config.dataDir);
    if (loaded.problem) this.log.warn(loaded.problem);
    this.state = loaded.state;
    // Without trustworthy state, ask for the whole desired set even if versions would match.
    this.forceFullSet = loaded.fresh;
    this.settings = {
      cluster: this.identity?.cluster ?? config.cluster ?? 'default',
      containerInstanceArn: this.identity?.containerInstanceArn ?? '',
      pullBehavior: config.pullBehavior,
      stopTimeoutSeconds: config.stopTimeoutSeconds,
      cleanupWaitMs: config.cleanupWaitSeconds * 1000,
      observeIntervalMs: options.observeIntervalMs ?? 15_000,
      restart: {
        baseMs: config.restartBackoffSeconds * 1000,
        maxMs: config.restartBackoffMaxSeconds * 1000,
        resetAfterMs: Math.max(60_000, config.restartBackoffMaxSeconds * 2000),
      },
      registryCredentials: this.registryCredentials(),
    };
    this.engine = new TaskEngine({
      state: this.state,
      runtime: options.runtime,
      log: this.log,
      now: () => Date.now(),
      isOffline: () => !this.online,
      // The sync loop decides when the reports go (reportsDueIn); it only has to look again.
      onReport: () => this.wake(),
      saveNow: () => this.saveNow(),
      saveSoon: () => this.saveSoon(),
      settings: this.settings,
    });
    this.doorbell = new DoorbellLoop({
      client: () => this.client,
      log: this.log,
      signal: this.abort.signal,
      backoff: linkBackoff,
      random: this.random,
      waitSeconds: options.doorbellWaitSeconds ?? 20,
      firstSync: this.firstSync,
      wantSync: () => {
        this.syncWanted = true;
      },
      wake: () => this.wake(),
      setOnline: (online, why) => this.setOnline(online, why),
    });
  }

  /** Private registry logins, by the `credentialsParameter` a task definition names. */
  private registryCredentials(): Record<string, RegistryAuth> {
    const text = readTextIfExists(join(this.options.config.dataDir, 'registry-credentials.json'));
    return text ? (JSON.parse(text) as Record<string, RegistryAuth>) : {};
  }

  get containerInstanceArn(): string | undefined {
    return this.identity?.containerInstanceArn;
  }

  /**
   * Registers when there is no identity yet (retrying while the control plane is unreachable;
   * a refused activation throws), adopts what runs, and starts the loops. Resolves once running.
   */
  async start(): Promise<void> {
    this.releaseDataDir = lockDataDir(this.options.config.dataDir);
    if (!this.identity) {
      this.identity = await register({
        config: this.options.config,
        env: this.options.env,
        log: this.log,
        signal: this.abort.signal,
        backoff: linkBackoff,
        random: this.random,
      });
    }
    const identity = this.identity;
    if (this.options.config.endpoint && this.options.config.endpoint !== identity.endpoint) {
      this.log.warn('--endpoint differs from the registered one, which is used', {
        registered: identity.endpoint,
      });
    }
    this.settings.cluster = identity.cluster;
    this.settings.containerInstanceArn = identity.containerInstanceArn;
    this.client = createApiClient(identity.endpoint, () => identity.token, this.options.env);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.engine.recover();
        break;
      } catch (error) {
        // dockerd may come up after the agent at boot: wait for it rather than exit.
        if (this.abort.signal.aborted) return;
        this.log.warn('container runtime unavailable; retrying', { error: messageOf(error) });
        await sleep(jitteredBackoff(attempt, linkBackoff, this.random), this.abort.signal);
      }
    }
    // Containers nobody on disk claims: only the control plane's whole desired set says whose they are.
    if (this.engine.hasOrphans) this.forceFullSet = true;
    this.log.info('agent started', {
      containerInstanceArn: identity.containerInstanceArn,
      tasks: this.engine.tasks.length,
    });
    this.loops = [this.syncLoop(), this.doorbell.run()];
  }

  private wake() {
    this.woken = true;
    this.wakeUp?.();
  }

  private waitForWake(ms: number): Promise<void> {
    if (this.woken) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        this.abort.signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.wakeUp = done;
      this.abort.signal.addEventListener('abort', done, { once: true });
    });
  }

  /** Milliseconds until the first of the tasks' pending reports should go (see reportsDueIn). */
  private reportsDueIn(nowMs: number): number {
    return Math.min(...this.engine.tasks.map((t) => reportsDueIn(t, nowMs, pendingReportGraceMs)));
  }

  private setOnline(online: boolean, why?: string) {
    if (online === this.online) return;
    this.online = online;
    if (online) this.log.info('control plane reachable');
    else this.log.warn('control plane unreachable; running autonomously', { error: why });
  }

  private async syncLoop(): Promise<void> {
    let failures = 0;
    while (!this.abort.signal.aborted) {
      this.woken = false;
      const sinceSync = Date.now() - this.lastSyncAt;
      // A clock stepped back (sinceSync < 0) must not postpone the heartbeat by the size of the step.
      const heartbeatDue = sinceSync >= this.heartbeatMs || sinceSync < 0;
      const reportsDueIn = this.reportsDueIn(Date.now());
      if (this.syncWanted || heartbeatDue || reportsDueIn === 0) {
        try {
          this.syncWanted = false;
          const { sent, acked } = await this.syncOnce().finally(this.firstSyncTried);
          failures = 0;
          // Reports the server answered without acknowledging would be resent in a tight loop.
          if (sent > 0 && acked === 0) {
            await sleep(jitteredBackoff(1, linkBackoff, this.random), this.abort.signal);
          }
          continue;
        } catch (error) {
          if (this.abort.signal.aborted) break;
          this.syncWanted = true;
          failures += 1;
          if (error instanceof AgentApiError) {
            this.log.error('sync refused', { status: error.status, code: error.code, error: error.message });
            if ((error.status === 400 || error.status === 403) && this.lastSent.length > 0) {
              // Resending what the server refuses as such would block every later report: dropped.
              const dropped = refusedReports(this.lastSent, error.taskArn);
              this.log.error('dropping refused reports', {
                tasks: [...new Set(dropped.map((r) => r.taskArn))],
              });
              this.engine.acknowledge(dropped);
              // The rest go again at once.
              if (dropped.length < this.lastSent.length) {
                failures = 0;
                continue;
              }
            }
          } else {
            this.setOnline(false, messageOf(error));
          }
          await sleep(retryDelay(error, failures, linkBackoff, this.random), this.abort.signal);
          continue;
        }
      }
      await this.waitForWake(Math.min(this.heartbeatMs - (Date.now() - this.lastSyncAt), reportsDueIn));
    }
  }

  /** One sync; answers how many reports went and how many of them were acknowledged. */
  private async syncOnce(): Promise<{ sent: number; acked: number }> {
    const client = this.client;
    if (!client) return { sent: 0, acked: 0 };
    // Reports are on disk before they leave: their seqs must never be reused after a crash.
    this.saveNow();
    const request: SyncRequest = {
      assignmentVersion: this.forceFullSet ? 0 : this.state.assignmentVersion,
      // A task just seen PENDING waits for its RUNNING even when another task's report makes this
      // sync go now: one write of the task instead of two (reportsDueIn brings its turn).
      reports: reportBatch(
        this.engine.tasks,
        maxReportsPerSync,
        undefined,
        (t) => reportsDueIn(t, Date.now(), pendingReportGraceMs) > 0,
      ),
      ...(this.sentResources ? {} : { resources: hostResources(this.options.config.reservedMemoryMiB) }),
    };
    this.lastSent = request.reports.map((r) => ({ taskArn: r.taskArn, seq: r.seq }));
    const response = await client.sync(request, this.abort.signal);
    this.log.debug('synced', {
      reports: request.reports.length,
      acked: response.acked.length,
      assignmentVersion: response.assignmentVersion,
      tasks: response.tasks?.length,
    });
    this.options.onSync?.(request, response);
    this.setOnline(true);
    this.sentResources = true;
    this.lastSyncAt = Date.now();
    this.heartbeatMs = response.heartbeatSeconds * 1000;
    if (response.doorbell) this.doorbell.useAddress(response.doorbell);
    this.engine.acknowledge(response.acked);
    const fullSet =
      response.tasks ??
      (request.assignmentVersion === response.assignmentVersion && this.forceFullSet ? [] : undefined);
    if (fullSet) {
      this.state.assignmentVersion = response.assignmentVersion;
      this.engine.applyAssignments(fullSet);
      if (this.forceFullSet || this.engine.hasOrphans) {
        this.forceFullSet = false;
        void this.engine.removeUnclaimedOrphans();
      }
    }
    const sent = new Set(request.reports.map((r) => `${r.taskArn} ${r.seq}`));
    return { sent: sent.size, acked: response.acked.filter((a) => sent.has(`${a.taskArn} ${a.seq}`)).length };
  }

  /**
   * Writes the state (atomically, fsynced) unless it is what was last written: an idle agent's
   * heartbeat changes nothing, and a write with two fsyncs a minute would only wear an edge
   * machine's SD card.
   */
  saveNow(): void {
    clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    const text = stateText(this.state);
    if (text === this.savedText) return;
    saveStateText(this.options.config.dataDir, text);
    this.savedText = text;
  }

  private saveSoon(): void {
    if (this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      try {
        this.saveNow();
      } catch (error) {
        this.log.error('could not save state', { error: messageOf(error) });
      }
    }, 100);
  }

  /** Stops the loops and saves the state; containers keep running (an agent upgrade restarts no task). */
  async stop(): Promise<void> {
    this.abort.abort();
    this.firstSyncTried();
    await Promise.allSettled(this.loops);
    await this.engine.close();
    this.saveNow();
    this.releaseDataDir?.();
  }
}
