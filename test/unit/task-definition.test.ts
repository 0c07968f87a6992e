import { describe, expect, it } from 'vitest';
import { BerthError } from '../../core/errors.ts';
import {
  computeCompatibilities,
  computeRequiresAttributes,
  describeTaskDefinition,
  supportsExternal,
  type TaskDefinitionMeta,
} from '../../core/model/task-definition/describe.ts';
import { isFargateSize } from '../../core/model/task-definition/fargate.ts';
import { RegisterTaskDefinitionInput } from '../../core/model/task-definition/schema.ts';
import { validateTaskDefinition } from '../../core/model/task-definition/validate.ts';
import { reservationOf } from '../../core/model/task-factory.ts';
import { parseCpuUnits, parseMemoryMiB } from '../../core/model/units.ts';

// --- helpers -----------------------------------------------------------------------------------

type Json = Record<string, unknown>;

/** A definition ECS Anywhere accepts: one essential container with a hard memory limit. */
const minimal = (overrides: Json = {}): Json => ({
  family: 'web',
  requiresCompatibilities: ['EXTERNAL'],
  networkMode: 'bridge',
  containerDefinitions: [{ name: 'app', image: 'nginx:1.27', memory: 128 }],
  ...overrides,
});

const container = (overrides: Json = {}): Json => ({
  name: 'app',
  image: 'nginx:1.27',
  memory: 128,
  ...overrides,
});

const parse = (raw: Json): RegisterTaskDefinitionInput => RegisterTaskDefinitionInput.parse(raw);

const register = (raw: Json): RegisterTaskDefinitionInput => {
  const input = parse(raw);
  validateTaskDefinition(input);
  return input;
};

/** The BerthError validateTaskDefinition throws for `raw`; fails the test when it does not throw. */
const refusal = (raw: Json): BerthError => {
  const input = parse(raw);
  try {
    validateTaskDefinition(input);
  } catch (error) {
    if (error instanceof BerthError) return error;
    throw error;
  }
  throw new Error('expected validateTaskDefinition to refuse the definition');
};

const meta: TaskDefinitionMeta = {
  taskDefinitionArn: 'arn:aws:ecs:us-east-1:000000000000:task-definition/web:1',
  revision: 1,
  status: 'ACTIVE',
  registeredAt: new Date('2025-01-02T03:04:05.000Z'),
};

const describeRaw = (raw: Json) => describeTaskDefinition(register(raw), meta);

// --- units -------------------------------------------------------------------------------------

describe('parseCpuUnits', () => {
  it('reads vCPU forms as 1024 units per vCPU, whatever the case and spacing', () => {
    // Act
    const values = ['1 vCPU', '0.5 vcpu', '2vCPU', '0.25 VCPU'].map(parseCpuUnits);

    // Assess
    expect(values).toEqual([1024, 512, 2048, 256]);
  });

  it('reads plain units given as a number or a string of digits', () => {
    // Act
    const values = [parseCpuUnits(256), parseCpuUnits('256'), parseCpuUnits(' 1024 ')];

    // Assess
    expect(values).toEqual([256, 256, 1024]);
  });

  it('refuses garbage, negative and fractional units with InvalidParameterException', () => {
    // Act
    const attempts = ['lots', '1 core', '-256', '12.5', '0.0001 vCPU', ''].map(
      (value) => () => parseCpuUnits(value),
    );
    const fractionalNumber = () => parseCpuUnits(0.5);

    // Assess
    for (const attempt of [...attempts, fractionalNumber]) {
      expect(attempt).toThrowError(expect.objectContaining({ code: 'InvalidParameterException' }));
    }
  });
});

describe('parseMemoryMiB', () => {
  it('reads GB forms as 1024 MiB per GB', () => {
    // Act
    const values = ['2 GB', '1GB', '0.5 GB', '3 gb'].map(parseMemoryMiB);

    // Assess
    expect(values).toEqual([2048, 1024, 512, 3072]);
  });

  it('reads plain MiB given as a number or a string of digits', () => {
    // Act
    const values = [parseMemoryMiB(512), parseMemoryMiB('512')];

    // Assess
    expect(values).toEqual([512, 512]);
  });

  it('refuses garbage with InvalidParameterException', () => {
    // Act
    const attempts = ['much', '2 TB', 'GB', '1.5.1 GB', '-1'].map((value) => () => parseMemoryMiB(value));

    // Assess
    for (const attempt of attempts) {
      expect(attempt).toThrowError(expect.objectContaining({ code: 'InvalidParameterException' }));
    }
  });
});

// --- schema ------------------------------------------------------------------------------------

describe('RegisterTaskDefinitionInput', () => {
  it('keeps fields Berth does not know, at every level', () => {
    // Prepare
    const raw = minimal({
      futureTaskField: { a: 1 },
      containerDefinitions: [
        container({ futureContainerField: 'x', portMappings: [{ containerPort: 80, extra: true }] }),
      ],
    });

    // Act
    const input = parse(raw);

    // Assess
    expect(input.futureTaskField).toEqual({ a: 1 });
    expect(input.containerDefinitions[0]?.futureContainerField).toBe('x');
    expect(input.containerDefinitions[0]?.portMappings?.[0]?.extra).toBe(true);
  });

  it('treats null members as absent, as exported describe files carry them', () => {
    // Prepare
    const raw = minimal({
      taskRoleArn: null,
      memory: null,
      containerDefinitions: [
        container({ command: null, logConfiguration: { logDriver: 'awslogs', secretOptions: null } }),
      ],
    });

    // Act
    const input = parse(raw);

    // Assess
    expect('taskRoleArn' in input).toBe(false);
    expect('memory' in input).toBe(false);
    expect('command' in (input.containerDefinitions[0] ?? {})).toBe(false);
    expect(input.containerDefinitions[0]?.logConfiguration).toEqual({ logDriver: 'awslogs' });
  });

  it('refuses values outside the enums ECS defines', () => {
    // Prepare
    const bad = [
      minimal({ networkMode: 'overlay' }),
      minimal({ requiresCompatibilities: ['LAMBDA'] }),
      minimal({
        containerDefinitions: [container({ dependsOn: [{ containerName: 'db', condition: 'READY' }] })],
      }),
      minimal({
        containerDefinitions: [container({ portMappings: [{ containerPort: 80, protocol: 'sctp' }] })],
      }),
    ];

    // Act
    const results = bad.map((raw) => RegisterTaskDefinitionInput.safeParse(raw).success);

    // Assess
    expect(results).toEqual([false, false, false, false]);
  });

  it('accepts every launch type ECS knows in requiresCompatibilities', () => {
    // Act
    const result = RegisterTaskDefinitionInput.safeParse(
      minimal({ requiresCompatibilities: ['EC2', 'FARGATE', 'EXTERNAL', 'MANAGED_INSTANCES'] }),
    );

    // Assess
    expect(result.success).toBe(true);
  });

  it('requires family, containerDefinitions and each container name and image', () => {
    // Prepare
    const bad = [
      { containerDefinitions: [container()] },
      { family: 'web' },
      minimal({ containerDefinitions: [{ name: 'app', memory: 128 }] }),
      minimal({ containerDefinitions: [{ image: 'nginx', memory: 128 }] }),
    ];

    // Act
    const results = bad.map((raw) => RegisterTaskDefinitionInput.safeParse(raw).success);

    // Assess
    expect(results).toEqual([false, false, false, false]);
  });

  it('refuses wrongly typed known fields', () => {
    // Prepare
    const bad = [
      minimal({ containerDefinitions: [container({ memory: '128' })] }),
      minimal({ containerDefinitions: [container({ cpu: 1.5 })] }),
      minimal({ containerDefinitions: [container({ essential: 'yes' })] }),
      minimal({ containerDefinitions: [container({ command: 'sleep 1' })] }),
    ];

    // Act
    const results = bad.map((raw) => RegisterTaskDefinitionInput.safeParse(raw).success);

    // Assess
    expect(results).toEqual([false, false, false, false]);
  });
});

// --- validation --------------------------------------------------------------------------------

describe('validateTaskDefinition', () => {
  describe('names and counts', () => {
    it('accepts a minimal EXTERNAL definition', () => {
      // Act
      const input = register(minimal());

      // Assess
      expect(input.family).toBe('web');
    });

    it('refuses a family name with characters ECS does not allow', () => {
      // Act
      const errors = [
        refusal(minimal({ family: 'my.family' })),
        refusal(minimal({ family: 'x'.repeat(256) })),
      ];

      // Assess
      for (const error of errors) {
        expect(error.code).toBe('ClientException');
        expect(error.message).toMatch(/^family: /);
      }
    });

    it('refuses describe-only fields by name with InvalidParameterException', () => {
      // Act
      const error = refusal(minimal({ revision: 3 }));

      // Assess
      expect(error.code).toBe('InvalidParameterException');
      expect(error.message).toContain('"revision"');
    });

    it('accepts up to 10 containers and refuses none or more', () => {
      // Prepare
      const containers = (count: number) =>
        Array.from({ length: count }, (_, index) => container({ name: `c${index}` }));

      // Act
      const ten = register(minimal({ containerDefinitions: containers(10) }));
      const errors = [
        refusal(minimal({ containerDefinitions: [] })),
        refusal(minimal({ containerDefinitions: containers(11) })),
      ];

      // Assess
      expect(ten.containerDefinitions).toHaveLength(10);
      for (const error of errors) {
        expect(error.code).toBe('ClientException');
        expect(error.message).toMatch(/^containerDefinitions: /);
      }
    });

    it('refuses duplicate container names naming the second one', () => {
      // Act
      const error = refusal(minimal({ containerDefinitions: [container(), container()] }));

      // Assess
      expect(error.message).toMatch(/^containerDefinitions\[1\]\.name: /);
    });

    it('refuses a container name with characters ECS does not allow', () => {
      // Act
      const error = refusal(minimal({ containerDefinitions: [container({ name: 'my app' })] }));

      // Assess
      expect(error.message).toMatch(/^containerDefinitions\[0\]\.name: /);
    });

    it('refuses a definition without an essential container, counting an absent flag as essential', () => {
      // Act
      const error = refusal(minimal({ containerDefinitions: [container({ essential: false })] }));
      const defaulted = register(minimal({ containerDefinitions: [container()] }));

      // Assess
      expect(error.message).toContain('essential');
      expect(defaulted.containerDefinitions[0]?.essential).toBeUndefined();
    });
  });

  describe('launch types', () => {
    it('refuses EXTERNAL with awsvpc and accepts it with bridge, host and none', () => {
      // Act
      const error = refusal(minimal({ networkMode: 'awsvpc' }));
      const accepted = (['bridge', 'host', 'none'] as const).map((networkMode) =>
        register(minimal({ networkMode })),
      );

      // Assess
      expect(error.code).toBe('ClientException');
      expect(error.message).toMatch(/^networkMode: .*EXTERNAL.*awsvpc/);
      expect(accepted).toHaveLength(3);
    });

    it('accepts a FARGATE definition with awsvpc and a Fargate task size', () => {
      // Prepare
      const raw = minimal({
        requiresCompatibilities: ['FARGATE'],
        networkMode: 'awsvpc',
        cpu: '256',
        memory: '0.5 GB',
      });

      // Act
      const input = register(raw);

      // Assess
      expect(input.requiresCompatibilities).toEqual(['FARGATE']);
    });

    it('refuses FARGATE definitions the way Fargate does', () => {
      // Prepare
      const fargate = (overrides: Json) =>
        minimal({
          requiresCompatibilities: ['FARGATE'],
          networkMode: 'awsvpc',
          cpu: '256',
          memory: '512',
          ...overrides,
        });

      // Act
      const bridge = refusal(fargate({ networkMode: 'bridge' }));
      const noCpu = refusal(fargate({ cpu: undefined }));
      const noMemory = refusal(fargate({ memory: undefined }));
      const badSize = refusal(fargate({ cpu: '512', memory: '512' }));
      const awslogs = refusal(
        fargate({
          containerDefinitions: [container({ logConfiguration: { logDriver: 'awslogs', options: {} } })],
        }),
      );
      const ecr = refusal(
        fargate({
          containerDefinitions: [container({ image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1' })],
        }),
      );
      const hostPath = refusal(fargate({ volumes: [{ name: 'data', host: { sourcePath: '/data' } }] }));

      // Assess
      expect(bridge.message).toBe("networkMode: Fargate only supports network mode 'awsvpc'.");
      expect(noCpu.message).toBe("cpu: Fargate requires that 'cpu' be defined at the task level.");
      expect(noMemory.message).toBe("memory: Fargate requires that 'memory' be defined at the task level.");
      expect(badSize.message).toContain(
        'No Fargate configuration exists for given values: 512 CPU, 512 memory.',
      );
      expect(awslogs.message).toMatch(/^containerDefinitions\[0\]\.logConfiguration: .*execution role ARN/);
      expect(ecr.message).toMatch(
        /^containerDefinitions\[0\]\.image: .*execution role ARN to support ECR images/,
      );
      expect(hostPath.message).toMatch(/^volumes\[0\]\.host\.sourcePath: /);
    });

    it('accepts a FARGATE definition with awslogs and an ECR image when it has an execution role', () => {
      // Prepare
      const raw = minimal({
        requiresCompatibilities: ['FARGATE'],
        networkMode: 'awsvpc',
        cpu: '1 vCPU',
        memory: '2 GB',
        executionRoleArn: 'arn:aws:iam::123456789012:role/exec',
        containerDefinitions: [
          container({
            image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1',
            logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': 'g' } },
          }),
        ],
      });

      // Act
      const input = register(raw);

      // Assess
      expect(input.executionRoleArn).toBe('arn:aws:iam::123456789012:role/exec');
    });
  });

  describe('task cpu and memory', () => {
    it('accepts unit strings and bare numbers', () => {
      // Act
      const inputs = [
        register(minimal({ cpu: '1 vCPU', memory: '1 GB' })),
        register(minimal({ cpu: 256, memory: 512 })),
      ];

      // Assess
      expect(inputs).toHaveLength(2);
    });

    it('refuses unparsable task cpu as a ClientException naming cpu', () => {
      // Act
      const error = refusal(minimal({ cpu: 'a lot' }));

      // Assess
      expect(error.code).toBe('ClientException');
      expect(error.message).toMatch(/^cpu: Invalid 'cpu' setting for task\./);
    });

    it('refuses task cpu outside 128 to 196608 units', () => {
      // Act
      const errors = [refusal(minimal({ cpu: '64' })), refusal(minimal({ cpu: '200 vCPU' }))];
      const edges = [register(minimal({ cpu: '128' })), register(minimal({ cpu: '196608' }))];

      // Assess
      for (const error of errors) expect(error.message).toMatch(/^cpu: /);
      expect(edges).toHaveLength(2);
    });

    it('refuses containers whose cpu adds up to more than the task cpu', () => {
      // Prepare
      const raw = minimal({
        cpu: '256',
        containerDefinitions: [container({ cpu: 200 }), container({ name: 'side', cpu: 100 })],
      });

      // Act
      const error = refusal(raw);

      // Assess
      expect(error.message).toContain(
        "The sum of all container 'cpu' values cannot be greater than the value of the task 'cpu'.",
      );
    });
  });

  describe('container memory', () => {
    it('requires memory or memoryReservation on each container when the task has no memory', () => {
      // Prepare
      const bare = { name: 'app', image: 'nginx' };

      // Act
      const error = refusal(minimal({ containerDefinitions: [bare] }));
      const withTaskMemory = register(minimal({ memory: '512', containerDefinitions: [bare] }));
      const withReservation = register(
        minimal({ containerDefinitions: [{ ...bare, memoryReservation: 64 }] }),
      );

      // Assess
      expect(error.message).toBe(
        "containerDefinitions[0].memory: Invalid setting for container 'app'. At least one of 'memory' or 'memoryReservation' must be specified.",
      );
      expect(withTaskMemory.memory).toBe('512');
      expect(withReservation.containerDefinitions[0]?.memoryReservation).toBe(64);
    });

    it('refuses memory below memoryReservation and accepts them equal', () => {
      // Act
      const error = refusal(
        minimal({ containerDefinitions: [container({ memory: 128, memoryReservation: 256 })] }),
      );
      const equal = register(
        minimal({ containerDefinitions: [container({ memory: 256, memoryReservation: 256 })] }),
      );

      // Assess
      expect(error.message).toMatch(/^containerDefinitions\[0\]\.memoryReservation: /);
      expect(equal.containerDefinitions[0]?.memory).toBe(256);
    });

    it('refuses a container memory under 6 MiB', () => {
      // Act
      const error = refusal(minimal({ containerDefinitions: [container({ memory: 5 })] }));
      const six = register(minimal({ containerDefinitions: [container({ memory: 6 })] }));

      // Assess
      expect(error.message).toBe(
        "containerDefinitions[0].memory: The 'memory' setting for container 'app' is too low. Minimum is 6 megabytes.",
      );
      expect(six.containerDefinitions[0]?.memory).toBe(6);
    });

    it('refuses a container memory above the task memory', () => {
      // Act
      const error = refusal(minimal({ memory: '512', containerDefinitions: [container({ memory: 1024 })] }));

      // Assess
      expect(error.message).toBe(
        "containerDefinitions[0].memory: The 'memory' setting for container 'app' is greater than for the task.",
      );
    });

    it('refuses reservations that add up to more than the task memory', () => {
      // Prepare
      const raw = minimal({
        memory: '512',
        containerDefinitions: [
          container({ memory: undefined, memoryReservation: 300 }),
          container({ name: 'side', memory: undefined, memoryReservation: 300 }),
        ],
      });

      // Act
      const error = refusal(raw);

      // Assess
      expect(error.message).toContain(
        "The sum of all container 'memoryReservation' values cannot be greater than the value of the task 'memory'.",
      );
    });
  });

  describe('health checks', () => {
    const withCheck = (healthCheck: Json) => minimal({ containerDefinitions: [container({ healthCheck })] });

    it('accepts CMD and CMD-SHELL commands with values at the edges of the ranges', () => {
      // Act
      const inputs = [
        register(
          withCheck({ command: ['CMD', 'true'], interval: 5, timeout: 2, retries: 1, startPeriod: 0 }),
        ),
        register(
          withCheck({
            command: ['CMD-SHELL', 'exit 0'],
            interval: 300,
            timeout: 60,
            retries: 10,
            startPeriod: 300,
          }),
        ),
      ];

      // Assess
      expect(inputs).toHaveLength(2);
    });

    it('refuses a command that does not start with CMD or CMD-SHELL', () => {
      // Act
      const errors = [
        refusal(withCheck({ command: ['curl', 'localhost'] })),
        refusal(withCheck({ command: [] })),
      ];

      // Assess
      for (const error of errors)
        expect(error.message).toMatch(/^containerDefinitions\[0\]\.healthCheck\.command: /);
    });

    it('refuses interval, timeout, retries and startPeriod outside their ranges, naming the field', () => {
      // Prepare
      const cases = [
        ['interval', 4],
        ['interval', 301],
        ['timeout', 1],
        ['timeout', 61],
        ['retries', 0],
        ['retries', 11],
        ['startPeriod', -1],
        ['startPeriod', 301],
      ] as const;

      // Act
      const messages = cases.map(
        ([field, value]) => refusal(withCheck({ command: ['CMD', 'true'], [field]: value })).message,
      );

      // Assess
      for (const [index, [field]] of cases.entries()) {
        expect(messages[index]).toMatch(
          new RegExp(`^containerDefinitions\\[0\\]\\.healthCheck\\.${field}: `),
        );
      }
    });
  });

  describe('container dependencies', () => {
    it('refuses a dependency on a container that does not exist, or on itself', () => {
      // Act
      const missing = refusal(
        minimal({
          containerDefinitions: [container({ dependsOn: [{ containerName: 'db', condition: 'START' }] })],
        }),
      );
      const self = refusal(
        minimal({
          containerDefinitions: [container({ dependsOn: [{ containerName: 'app', condition: 'START' }] })],
        }),
      );

      // Assess
      expect(missing.message).toBe(
        "containerDefinitions[0].dependsOn[0].containerName: Cannot depend on container 'db' because it does not exist.",
      );
      expect(self.message).toMatch(/^containerDefinitions\[0\]\.dependsOn\[0\]\.containerName: /);
    });

    it('refuses COMPLETE and SUCCESS on an essential container waited for', () => {
      // Prepare
      const raw = (condition: string) =>
        minimal({
          containerDefinitions: [
            container({ dependsOn: [{ containerName: 'init', condition }] }),
            container({ name: 'init', essential: true }),
          ],
        });

      // Act
      const errors = [refusal(raw('COMPLETE')), refusal(raw('SUCCESS'))];

      // Assess
      for (const error of errors) {
        expect(error.message).toBe(
          'containerDefinitions[0].dependsOn[0].condition: A dependency container with SUCCESS or COMPLETE condition cannot be an essential container.',
        );
      }
    });

    it('lets an essential container wait for a non-essential one to COMPLETE, SUCCEED, START or be HEALTHY', () => {
      // Prepare
      const raw = (condition: string) =>
        minimal({
          containerDefinitions: [
            container({ essential: true, dependsOn: [{ containerName: 'init', condition }] }),
            container({ name: 'init', essential: false, healthCheck: { command: ['CMD', 'true'] } }),
          ],
        });

      // Act
      const inputs = ['COMPLETE', 'SUCCESS', 'START', 'HEALTHY'].map((condition) => register(raw(condition)));

      // Assess
      expect(inputs.map((input) => input.containerDefinitions[0]?.dependsOn?.[0]?.condition)).toEqual([
        'COMPLETE',
        'SUCCESS',
        'START',
        'HEALTHY',
      ]);
    });
  });

  describe('restart policies', () => {
    const withPolicy = (restartPolicy: Json) =>
      minimal({ containerDefinitions: [container({ restartPolicy })] });
    const codes = (count: number) => Array.from({ length: count }, (_, index) => index + 1);

    it('accepts up to 50 ignored exit codes and a period of 60 to 1800 seconds', () => {
      // Act
      const inputs = [
        register(withPolicy({ enabled: true, ignoredExitCodes: codes(50), restartAttemptPeriod: 60 })),
        register(withPolicy({ enabled: true, restartAttemptPeriod: 1800 })),
      ];

      // Assess
      expect(inputs).toHaveLength(2);
    });

    it('refuses more than 50 ignored exit codes or a period outside 60 to 1800 seconds', () => {
      // Act
      const tooMany = refusal(withPolicy({ enabled: true, ignoredExitCodes: codes(51) }));
      const short = refusal(withPolicy({ enabled: true, restartAttemptPeriod: 59 }));
      const long = refusal(withPolicy({ enabled: true, restartAttemptPeriod: 1801 }));

      // Assess
      expect(tooMany.message).toMatch(/^containerDefinitions\[0\]\.restartPolicy\.ignoredExitCodes: /);
      expect(short.message).toMatch(/^containerDefinitions\[0\]\.restartPolicy\.restartAttemptPeriod: /);
      expect(long.message).toMatch(/^containerDefinitions\[0\]\.restartPolicy\.restartAttemptPeriod: /);
    });
  });

  describe('volumes', () => {
    it('accepts mount points on declared volumes and volumesFrom another container', () => {
      // Prepare
      const raw = minimal({
        volumes: [{ name: 'data', host: { sourcePath: '/srv' } }],
        containerDefinitions: [
          container({ mountPoints: [{ sourceVolume: 'data', containerPath: '/data' }] }),
          container({ name: 'side', volumesFrom: [{ sourceContainer: 'app' }] }),
        ],
      });

      // Act
      const input = register(raw);

      // Assess
      expect(input.volumes).toHaveLength(1);
    });

    it('refuses a mount point on an undeclared volume', () => {
      // Act
      const error = refusal(
        minimal({
          containerDefinitions: [
            container({ mountPoints: [{ sourceVolume: 'data', containerPath: '/data' }] }),
          ],
        }),
      );

      // Assess
      expect(error.message).toMatch(/^containerDefinitions\[0\]\.mountPoints\[0\]\.sourceVolume: /);
    });

    it('refuses volumesFrom a container that is not in the definition', () => {
      // Act
      const error = refusal(
        minimal({ containerDefinitions: [container({ volumesFrom: [{ sourceContainer: 'ghost' }] })] }),
      );

      // Assess
      expect(error.message).toMatch(/^containerDefinitions\[0\]\.volumesFrom\[0\]\.sourceContainer: /);
    });

    it('refuses two volumes with one name', () => {
      // Act
      const error = refusal(minimal({ volumes: [{ name: 'data' }, { name: 'data' }] }));

      // Assess
      expect(error.message).toMatch(/^volumes\[1\]\.name: /);
    });
  });

  describe('port mappings', () => {
    const withPorts = (portMappings: Json[], overrides: Json = {}) =>
      minimal({ containerDefinitions: [container({ portMappings })], ...overrides });

    it('refuses ports outside 0 to 65535 and a mapping without containerPort', () => {
      // Act
      const container65536 = refusal(withPorts([{ containerPort: 65_536 }]));
      const hostNegative = refusal(withPorts([{ containerPort: 80, hostPort: -1 }]));
      const noContainerPort = refusal(withPorts([{ hostPort: 80 }]));

      // Assess
      expect(container65536.message).toMatch(
        /^containerDefinitions\[0\]\.portMappings\[0\]\.containerPort: /,
      );
      expect(hostNegative.message).toMatch(/^containerDefinitions\[0\]\.portMappings\[0\]\.hostPort: /);
      expect(noContainerPort.message).toMatch(
        /^containerDefinitions\[0\]\.portMappings\[0\]\.containerPort: /,
      );
    });

    it('refuses a hostPort different from containerPort under host and awsvpc', () => {
      // Act
      const host = refusal(withPorts([{ containerPort: 80, hostPort: 8080 }], { networkMode: 'host' }));
      const awsvpc = refusal(
        withPorts([{ containerPort: 80, hostPort: 8080 }], {
          networkMode: 'awsvpc',
          requiresCompatibilities: ['EC2'],
        }),
      );

      // Assess
      expect(host.message).toContain(
        'When networkMode=host, the host ports and container ports in port mappings must match.',
      );
      expect(awsvpc.message).toContain(
        'When networkMode=awsvpc, the host ports and container ports in port mappings must match.',
      );
    });

    it('accepts a bridge hostPort different from containerPort', () => {
      // Act
      const input = register(withPorts([{ containerPort: 80, hostPort: 8080 }]));

      // Assess
      expect(input.containerDefinitions[0]?.portMappings?.[0]?.hostPort).toBe(8080);
    });

    it('refuses one host port and protocol bound twice in a definition', () => {
      // Prepare
      const raw = minimal({
        containerDefinitions: [
          container({ portMappings: [{ containerPort: 80, hostPort: 8080 }] }),
          container({ name: 'side', portMappings: [{ containerPort: 81, hostPort: 8080, protocol: 'tcp' }] }),
        ],
      });

      // Act
      const error = refusal(raw);

      // Assess
      expect(error.message).toMatch(
        /^containerDefinitions\[1\]\.portMappings\[0\]\.hostPort: Host port 8080\/tcp/,
      );
    });

    it('accepts one host port on tcp and udp, and several dynamic host ports', () => {
      // Act
      const input = register(
        withPorts([
          { containerPort: 53, hostPort: 53, protocol: 'tcp' },
          { containerPort: 53, hostPort: 53, protocol: 'udp' },
          { containerPort: 80, hostPort: 0 },
          { containerPort: 81, hostPort: 0 },
          { containerPort: 82 },
        ]),
      );

      // Assess
      expect(input.containerDefinitions[0]?.portMappings).toHaveLength(5);
    });

    it('refuses port mappings under networkMode none', () => {
      // Act
      const error = refusal(withPorts([{ containerPort: 80 }], { networkMode: 'none' }));

      // Assess
      expect(error.message).toMatch(/^containerDefinitions\[0\]\.portMappings: /);
    });
  });

  describe('links', () => {
    const linked = (overrides: Json) =>
      minimal({
        containerDefinitions: [container({ links: ['db'] }), container({ name: 'db' })],
        ...overrides,
      });

    it('accepts links in bridge mode, given or by default', () => {
      // Act
      const inputs = [register(linked({})), register(linked({ networkMode: undefined }))];

      // Assess
      expect(inputs.map((input) => input.containerDefinitions[0]?.links)).toEqual([['db'], ['db']]);
    });

    it('refuses links under host and awsvpc', () => {
      // Act
      const host = refusal(linked({ networkMode: 'host' }));
      const awsvpc = refusal(linked({ networkMode: 'awsvpc', requiresCompatibilities: ['EC2'] }));

      // Assess
      expect(host.message).toBe(
        'containerDefinitions[0].links: Links are not supported when networkMode=host.',
      );
      expect(awsvpc.message).toBe(
        'containerDefinitions[0].links: Links are not supported when networkMode=awsvpc.',
      );
    });
  });
});

// --- describe ----------------------------------------------------------------------------------

describe('describeTaskDefinition', () => {
  it('adds ECS container defaults where the user gave nothing', () => {
    // Act
    const td = describeRaw(
      minimal({ containerDefinitions: [container({ portMappings: [{ containerPort: 80 }] })] }),
    );

    // Assess
    expect(td.containerDefinitions[0]).toEqual({
      name: 'app',
      image: 'nginx:1.27',
      memory: 128,
      essential: true,
      cpu: 0,
      environment: [],
      mountPoints: [],
      volumesFrom: [],
      portMappings: [{ containerPort: 80, protocol: 'tcp' }],
    });
    expect(td.volumes).toEqual([]);
    expect(td.placementConstraints).toEqual([]);
  });

  it('keeps what the user gave, including false, zero and unknown fields', () => {
    // Prepare
    const given = container({
      essential: false,
      cpu: 10,
      environment: [{ name: 'A', value: '1' }],
      portMappings: [{ containerPort: 80, hostPort: 0, protocol: 'udp', name: 'web' }],
      unknownToBerth: { nested: [1, 2] },
    });

    // Act
    const td = describeRaw(minimal({ containerDefinitions: [container({ name: 'main' }), given] }));

    // Assess
    expect(td.containerDefinitions[1]).toMatchObject({
      essential: false,
      cpu: 10,
      environment: [{ name: 'A', value: '1' }],
      portMappings: [{ containerPort: 80, hostPort: 0, protocol: 'udp', name: 'web' }],
      unknownToBerth: { nested: [1, 2] },
    });
  });

  it('fills hostPort with containerPort under host and awsvpc but not under bridge', () => {
    // Prepare
    const ports = { containerDefinitions: [container({ portMappings: [{ containerPort: 80 }] })] };

    // Act
    const host = describeRaw(minimal({ networkMode: 'host', ...ports }));
    const awsvpc = describeRaw(
      minimal({ networkMode: 'awsvpc', requiresCompatibilities: ['EC2'], ...ports }),
    );
    const bridge = describeRaw(minimal({ networkMode: 'bridge', ...ports }));

    // Assess
    expect(host.containerDefinitions[0]?.portMappings).toEqual([
      { containerPort: 80, hostPort: 80, protocol: 'tcp' },
    ]);
    expect(awsvpc.containerDefinitions[0]?.portMappings).toEqual([
      { containerPort: 80, hostPort: 80, protocol: 'tcp' },
    ]);
    expect(bridge.containerDefinitions[0]?.portMappings).toEqual([{ containerPort: 80, protocol: 'tcp' }]);
  });

  it('answers task cpu and memory as strings of units', () => {
    // Act
    const units = describeRaw(minimal({ cpu: '1 vCPU', memory: '2 GB' }));
    const numbers = describeRaw(minimal({ cpu: 512, memory: 512 }));

    // Assess
    expect([units.cpu, units.memory]).toEqual(['1024', '2048']);
    expect([numbers.cpu, numbers.memory]).toEqual(['512', '512']);
  });

  it('leaves networkMode, cpu and memory out when they were not given, as ECS does', () => {
    // Act
    const td = describeRaw(minimal({ networkMode: undefined }));

    // Assess
    expect('networkMode' in td).toBe(false);
    expect('cpu' in td).toBe(false);
    expect('memory' in td).toBe(false);
  });

  it('answers the describe-only fields from meta and leaves tags out', () => {
    // Act
    const td = describeTaskDefinition(register(minimal({ tags: [{ key: 'team', value: 'edge' }] })), {
      ...meta,
      status: 'INACTIVE',
      registeredBy: 'arn:aws:iam::000000000000:user/me',
      deregisteredAt: new Date('2025-02-01T00:00:00.000Z'),
    });

    // Assess
    expect(td).toMatchObject({
      taskDefinitionArn: meta.taskDefinitionArn,
      family: 'web',
      revision: 1,
      status: 'INACTIVE',
      registeredAt: meta.registeredAt,
      registeredBy: 'arn:aws:iam::000000000000:user/me',
      deregisteredAt: new Date('2025-02-01T00:00:00.000Z'),
      requiresCompatibilities: ['EXTERNAL'],
    });
    expect('tags' in td).toBe(false);
  });

  it('answers no registeredBy or deregisteredAt when meta has none', () => {
    // Act
    const td = describeRaw(minimal());

    // Assess
    expect('registeredBy' in td).toBe(false);
    expect('deregisteredAt' in td).toBe(false);
  });

  it('does not change the registered input', () => {
    // Prepare
    const input = register(
      minimal({
        cpu: '1 vCPU',
        containerDefinitions: [container({ portMappings: [{ containerPort: 80 }] })],
      }),
    );
    const before = structuredClone(input);

    // Act
    describeTaskDefinition(input, meta);

    // Assess
    expect(input).toEqual(before);
  });

  it('computes the attributes a container instance needs', () => {
    // Prepare
    const raw = minimal({
      requiresCompatibilities: ['EC2'],
      networkMode: 'awsvpc',
      executionRoleArn: 'arn:aws:iam::123456789012:role/exec',
      taskRoleArn: 'arn:aws:iam::123456789012:role/task',
      containerDefinitions: [
        container({
          image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:1',
          healthCheck: { command: ['CMD', 'true'] },
          secrets: [{ name: 'PW', valueFrom: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:pw' }],
          logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-create-group': 'true' } },
          dependsOn: [{ containerName: 'side', condition: 'START' }],
        }),
        container({ name: 'side', memoryReservation: 64, memory: undefined }),
      ],
    });

    // Act
    const names = computeRequiresAttributes(register(raw)).map((attribute) => attribute.name);

    // Assess
    expect(new Set(names)).toEqual(
      new Set([
        'com.amazonaws.ecs.capability.logging-driver.awslogs',
        'ecs.capability.execution-role-awslogs',
        'com.amazonaws.ecs.capability.ecr-auth',
        'com.amazonaws.ecs.capability.docker-remote-api.1.19',
        'com.amazonaws.ecs.capability.docker-remote-api.1.21',
        'com.amazonaws.ecs.capability.task-iam-role',
        'ecs.capability.container-ordering',
        'ecs.capability.container-health-check',
        'ecs.capability.execution-role-ecr-pull',
        'ecs.capability.secrets.asm.environment-variables',
        'ecs.capability.task-eni',
        'com.amazonaws.ecs.capability.docker-remote-api.1.29',
      ]),
    );
  });

  it('requires nothing of a plain public-image container', () => {
    // Act
    const td = describeRaw(minimal());

    // Assess
    expect(td.requiresAttributes).toEqual([]);
  });
});

// --- compatibilities ---------------------------------------------------------------------------

describe('computeCompatibilities', () => {
  it('gives EXTERNAL and EC2 to bridge, host, none and default network modes, whatever they require', () => {
    // Prepare
    const modes = ['bridge', 'host', 'none', undefined];

    // Act
    const results = modes.map((networkMode) =>
      computeCompatibilities(register(minimal({ networkMode, requiresCompatibilities: ['EC2'] }))),
    );

    // Assess
    for (const result of results) expect(result).toEqual(['EXTERNAL', 'EC2']);
  });

  it('keeps EXTERNAL when runtimePlatform is set, unlike ECS', () => {
    // Act
    const result = computeCompatibilities(
      register(minimal({ runtimePlatform: { cpuArchitecture: 'X86_64', operatingSystemFamily: 'LINUX' } })),
    );

    // Assess
    expect(result).toEqual(['EXTERNAL', 'EC2']);
  });

  it('gives awsvpc EC2, and FARGATE only with a Fargate task size', () => {
    // Prepare
    const awsvpc = (cpu?: string, memory?: string) =>
      register(minimal({ networkMode: 'awsvpc', requiresCompatibilities: ['EC2'], cpu, memory }));

    // Act
    const sized = computeCompatibilities(awsvpc('1024', '3072'));
    const notFargateSize = computeCompatibilities(awsvpc('1024', '1024'));
    const unsized = computeCompatibilities(awsvpc());

    // Assess
    expect(sized).toEqual(['EC2', 'FARGATE']);
    expect(notFargateSize).toEqual(['EC2']);
    expect(unsized).toEqual(['EC2']);
  });

  it('leaves FARGATE out when the definition uses something Fargate lacks', () => {
    // Act
    const result = computeCompatibilities(
      register(
        minimal({
          networkMode: 'awsvpc',
          requiresCompatibilities: ['EC2'],
          cpu: '256',
          memory: '512',
          containerDefinitions: [container({ privileged: true })],
        }),
      ),
    );

    // Assess
    expect(result).toEqual(['EC2']);
  });

  it('lists MANAGED_INSTANCES when the definition requires it', () => {
    // Act
    const result = computeCompatibilities(
      register(minimal({ requiresCompatibilities: ['MANAGED_INSTANCES'] })),
    );

    // Assess
    expect(result).toEqual(['EXTERNAL', 'EC2', 'MANAGED_INSTANCES']);
  });
});

describe('isFargateSize', () => {
  it('accepts the documented Fargate task sizes and refuses the others', () => {
    // Prepare
    const valid: [number, number][] = [
      [256, 512],
      [256, 2048],
      [512, 4096],
      [1024, 8192],
      [2048, 16_384],
      [4096, 30_720],
      [8192, 16_384],
      [8192, 61_440],
      [16_384, 122_880],
    ];
    const invalid: [number, number][] = [
      [256, 1536],
      [256, 3072],
      [512, 512],
      [1024, 1024],
      [4096, 31_744],
      [8192, 18_432],
      [16_384, 36_864],
      [128, 512],
    ];

    // Act
    const validResults = valid.map(([cpu, memory]) => isFargateSize(cpu, memory));
    const invalidResults = invalid.map(([cpu, memory]) => isFargateSize(cpu, memory));

    // Assess
    expect(validResults.every(Boolean)).toBe(true);
    expect(invalidResults.some(Boolean)).toBe(false);
  });
});

describe('supportsExternal', () => {
  it('is true when compatibilities list EXTERNAL and false otherwise', () => {
    // Act
    const bridge = supportsExternal(describeRaw(minimal()));
    const awsvpc = supportsExternal(
      describeRaw(minimal({ networkMode: 'awsvpc', requiresCompatibilities: ['EC2'] })),
    );

    // Assess
    expect(bridge).toBe(true);
    expect(awsvpc).toBe(false);
  });
});

describe('reservationOf: the host ports a task takes', () => {
  const reserved = (networkMode: string, portMappings: Json[]) =>
    reservationOf(describeRaw(minimal({ networkMode, containerDefinitions: [container({ portMappings })] })));

  it('reserves the container port under host networking, hostPort 0 or absent alike', () => {
    // Act
    const given = reserved('host', [{ containerPort: 80, hostPort: 80 }]);
    const zero = reserved('host', [{ containerPort: 81, hostPort: 0 }]);
    const absent = reserved('host', [{ containerPort: 53, protocol: 'udp' }]);

    // Assess: registration counts these as colliding ports, so placement must reserve them.
    expect(given.ports).toEqual([80]);
    expect(zero.ports).toEqual([81]);
    expect(absent).toMatchObject({ ports: [], portsUdp: [53] });
  });

  it('reserves only static host ports under bridge networking', () => {
    // Act
    const reservation = reserved('bridge', [
      { containerPort: 80, hostPort: 8080 },
      { containerPort: 81, hostPort: 0 },
      { containerPort: 82 },
    ]);

    // Assess
    expect(reservation.ports).toEqual([8080]);
  });
});
