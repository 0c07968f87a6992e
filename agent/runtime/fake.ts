import { randomBytes } from 'node:crypto';
import { hostPortOf } from '../../core/model/task-definition/ports.ts';
import { specOf } from '../container-spec.ts';
import type {
  ContainerObservation,
  ContainerRuntime,
  ContainerSummary,
  CreateRequest,
  PullBehavior,
  RuntimeEvent,
  RuntimeHealth,
} from './types.ts';

export type FakeRuntimeOptions = {
  /** How long a start takes (ms), as a real engine's would. */
  startDelayMs?: number;
  /** How long a pull of a missing image takes (ms). */
  pullDelayMs?: number;
  /** Images present from the start; others are "pulled" unless in `unpullable`. */
  images?: string[];
  /** Host ports handed out for dynamic mappings start here. */
  firstDynamicPort?: number;
};

type FakeContainer = {
  id: string;
  request: CreateRequest;
  running: boolean;
  exitCode?: number;
  health?: RuntimeHealth;
  startedAt?: string;
  finishedAt?: string;
  hostPorts: Map<string, number>;
};

/**
 * An in-memory ContainerRuntime: no processes, same contract. Tests and the fleet simulator
 * drive it: fail pulls or starts, make containers exit, set their health.
 */
export class FakeRuntime implements ContainerRuntime {
  readonly containers = new Map<string, FakeContainer>();
  readonly images: Set<string>;
  /** Images whose pull fails (unless present and the behaviour falls back). */
  readonly unpullable = new Set<string>();
  /** Container names (ECS names) whose start fails. */
  readonly failingStarts = new Set<string>();
  /** Container names (ECS names) that exit with this code right after starting. */
  readonly exitOnStart = new Map<string, number>();
  pulls = 0;
  private readonly listeners = new Map<(event: RuntimeEvent) => void, string | undefined>();
  private nextPort: number;

  private readonly options: FakeRuntimeOptions;

  constructor(options: FakeRuntimeOptions = {}) {
    this.options = options;
    this.images = new Set(options.images ?? []);
    this.nextPort = options.firstDynamicPort ?? 32768;
  }

  private emit(container: FakeContainer, kind: string) {
    const event = {
      id: container.id,
      kind,
      taskArn: container.request.task.taskArn,
      containerName: container.request.container.name,
    };
    for (const [listener, owner] of this.listeners) {
      if (owner === undefined || owner === container.request.owner) queueMicrotask(() => listener(event));
    }
  }

  private get(id: string): FakeContainer {
    const container = this.containers.get(id);
    if (!container) throw Object.assign(new Error(`No such container: ${id}`), { statusCode: 404 });
    return container;
  }

  async ensureImage(image: string, behavior: PullBehavior): Promise<void> {
    const present = this.images.has(image);
    if (behavior === 'prefer-cached' && present) return;
    if (this.unpullable.has(image)) {
      if (behavior === 'default' && present) return;
      throw new Error(`pull access denied for ${image}`);
    }
    this.pulls += 1;
    if (this.options.pullDelayMs) await new Promise((r) => setTimeout(r, this.options.pullDelayMs));
    this.images.add(image);
  }

  async create(request: CreateRequest): Promise<string> {
    const existing = [...this.containers.values()].find((c) => c.request.name === request.name);
    if (existing) return existing.id;
    if (!this.images.has(request.container.image))
      throw new Error(`No such image: ${request.container.image}`);
    const id = randomBytes(32).toString('hex');
    this.containers.set(id, { id, request, running: false, hostPorts: new Map() });
    this.emit(this.get(id), 'create');
    return id;
  }

  async start(id: string): Promise<void> {
    const container = this.get(id);
    if (container.running) return;
    if (this.failingStarts.has(container.request.container.name))
      throw new Error('OCI runtime create failed');
    if (this.options.startDelayMs) await new Promise((r) => setTimeout(r, this.options.startDelayMs));
    container.running = true;
    container.exitCode = undefined;
    container.finishedAt = undefined;
    container.startedAt = new Date().toISOString();
    if (specOf(container.request.container).healthCheck) container.health = 'starting';
    this.emit(container, 'start');
    const exitCode = this.exitOnStart.get(container.request.container.name);
    if (exitCode !== undefined) this.exit(id, exitCode);
  }

  /** The container's process exits with `code` (a crash, or a job that finished). */
  exit(id: string, code: number): void {
    const container = this.get(id);
    if (!container.running) return;
    container.running = false;
    container.exitCode = code;
    container.finishedAt = new Date().toISOString();
    this.emit(container, 'die');
  }

  setHealth(id: string, health: RuntimeHealth): void {
    const container = this.get(id);
    container.health = health;
    this.emit(container, 'health_status');
  }

  async stop(id: string): Promise<void> {
    const container = this.containers.get(id);
    // SIGTERM: fake processes always honour it, with the conventional 128+15.
    if (container?.running) this.exit(id, 143);
  }

  async remove(id: string): Promise<void> {
    const container = this.containers.get(id);
    if (!container) return;
    this.containers.delete(id);
    this.emit(container, 'destroy');
  }

  async inspect(id: string): Promise<ContainerObservation | undefined> {
    const container = this.containers.get(id);
    if (!container) return undefined;
    const spec = specOf(container.request.container);
    const { networkMode } = container.request.task;
    const networkBindings = container.running
      ? (spec.portMappings ?? []).flatMap((mapping) => {
          if (mapping.containerPort === undefined) return [];
          const key = `${mapping.containerPort}/${mapping.protocol ?? 'tcp'}`;
          let hostPort = hostPortOf(mapping, networkMode) ?? container.hostPorts.get(key);
          if (!hostPort) {
            hostPort = this.nextPort++;
            container.hostPorts.set(key, hostPort);
          }
          return [
            {
              containerPort: mapping.containerPort,
              hostPort,
              protocol: mapping.protocol ?? 'tcp',
              bindIP: '0.0.0.0',
            },
          ];
        })
      : [];
    return {
      id,
      taskArn: container.request.task.taskArn,
      containerName: container.request.container.name,
      running: container.running,
      ...(container.exitCode !== undefined ? { exitCode: container.exitCode } : {}),
      ...(container.health ? { health: container.health } : {}),
      ...(container.startedAt ? { startedAt: container.startedAt } : {}),
      ...(container.finishedAt ? { finishedAt: container.finishedAt } : {}),
      networkBindings,
    };
  }

  async list(owner: string): Promise<ContainerSummary[]> {
    return [...this.containers.values()]
      .filter((c) => c.request.owner === owner)
      .map((c) => ({
        id: c.id,
        taskArn: c.request.task.taskArn,
        containerName: c.request.container.name,
        running: c.running,
      }));
  }

  async removeTaskVolumes(): Promise<void> {}

  /** `owner` undefined: every container's events (tests watching the whole engine). */
  watch(owner: string | undefined, onEvent: (event: RuntimeEvent) => void): () => void {
    this.listeners.set(onEvent, owner);
    return () => this.listeners.delete(onEvent);
  }

  /** Containers of a task, by ECS container name. */
  containersOf(taskArn: string): Map<string, FakeContainer> {
    return new Map(
      [...this.containers.values()]
        .filter((c) => c.request.task.taskArn === taskArn)
        .map((c) => [c.request.container.name, c]),
    );
  }
}
