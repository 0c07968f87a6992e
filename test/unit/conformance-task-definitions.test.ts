import { describe, expect, it } from 'vitest';
import { BerthError } from '../../core/errors.ts';
import { describeTaskDefinition, type TaskDefinition } from '../../core/model/task-definition/describe.ts';
import { DescribeOnlyFields, RegisterTaskDefinitionInput } from '../../core/model/task-definition/schema.ts';
import { validateTaskDefinition } from '../../core/model/task-definition/validate.ts';
import { parseCpuUnits, parseMemoryMiB } from '../../core/model/units.ts';
import {
  conformanceFiles as files,
  isObject,
  type Json,
  loadConformance as load,
  registrationInput,
} from '../conformance-files.ts';

/**
 * Twenty task definitions written by other people (see SOURCES.md next to them). Each is fed to
 * RegisterTaskDefinition the way users feed them to the AWS CLI: describe-only fields and the nulls
 * of exported files stripped. ECS accepts all twenty (the FARGATE-only ones too: Berth stores any
 * definition ECS stores and only refuses to *run* one without EXTERNAL), so each must register and
 * describe back with every given field unchanged, modulo the documented defaults and normalisations.
 */

/** What users register from a file's contents: nulls and Berth's describe-only fields removed. */
const asRegisterInput = (raw: Json): Json => registrationInput(raw, DescribeOnlyFields);

const meta = {
  taskDefinitionArn: 'arn:aws:ecs:us-east-1:000000000000:task-definition/conformance:1',
  revision: 1,
  status: 'ACTIVE' as const,
  registeredAt: new Date('2025-01-01T00:00:00.000Z'),
};

const register = (given: Json): TaskDefinition => {
  const input = RegisterTaskDefinitionInput.parse(given);
  validateTaskDefinition(input);
  return describeTaskDefinition(input, meta);
};

/** Every value given appears at the same path; arrays keep their length and order. */
const expectKept = (given: unknown, actual: unknown, path: string): void => {
  if (Array.isArray(given)) {
    expect(Array.isArray(actual), path).toBe(true);
    expect((actual as unknown[]).length, path).toBe(given.length);
    given.forEach((item, index) => {
      expectKept(item, (actual as unknown[])[index], `${path}[${index}]`);
    });
    return;
  }
  if (isObject(given)) {
    expect(isObject(actual), path).toBe(true);
    for (const [key, value] of Object.entries(given))
      expectKept(value, (actual as Json)[key], `${path}.${key}`);
    return;
  }
  expect(actual, path).toEqual(given);
};

const addedKeys = (given: Json, actual: Json): string[] =>
  Object.keys(actual).filter((key) => !(key in given));

/** Describe may add only ECS's defaults and describe-only fields, never a field the user did not give. */
const expectOnlyDefaultsAdded = (given: Json, td: TaskDefinition): void => {
  const taskDefaults = ['volumes', 'placementConstraints'];
  const describeOnly = [
    'taskDefinitionArn',
    'revision',
    'status',
    'compatibilities',
    'requiresAttributes',
    'registeredAt',
  ];
  for (const key of addedKeys(given, td)) {
    expect([...taskDefaults, ...describeOnly], `added task field ${key}`).toContain(key);
    if (taskDefaults.includes(key)) expect(td[key], key).toEqual([]);
  }
  const containerDefaults: Json = {
    essential: true,
    cpu: 0,
    environment: [],
    mountPoints: [],
    volumesFrom: [],
    portMappings: [],
  };
  const fixedPorts = given.networkMode === 'host' || given.networkMode === 'awsvpc';
  const givenContainers = given.containerDefinitions as Json[];
  td.containerDefinitions.forEach((container, index) => {
    const givenContainer = givenContainers[index] ?? {};
    for (const key of addedKeys(givenContainer, container)) {
      expect(Object.keys(containerDefaults), `added containerDefinitions[${index}].${key}`).toContain(key);
      expect(container[key], key).toEqual(containerDefaults[key]);
    }
    const givenMappings = (givenContainer.portMappings as Json[] | undefined) ?? [];
    container.portMappings.forEach((mapping, at) => {
      const givenMapping = givenMappings[at] ?? {};
      for (const key of addedKeys(givenMapping, mapping)) {
        const path = `containerDefinitions[${index}].portMappings[${at}].${key}`;
        if (key === 'protocol') expect(mapping.protocol, path).toBe('tcp');
        else if (key === 'hostPort' && fixedPorts) expect(mapping.hostPort, path).toBe(mapping.containerPort);
        else expect.fail(`describe invented ${path}`);
      }
    });
  });
};

/**
 * What ECS answered, for the five describe outputs, and where Berth differs on purpose.
 * 10 sets runtimePlatform on a bridge definition: ECS leaves EXTERNAL out, Berth keeps it (ECS-FACTS).
 */
const recordedCompatibilities: Record<string, { ecs: string[]; berth: string[] }> = {
  '04-river-level-bridge-describe.json': { ecs: ['EXTERNAL', 'EC2'], berth: ['EXTERNAL', 'EC2'] },
  '09-ms-credit-ec2-describe.json': { ecs: ['EXTERNAL', 'EC2'], berth: ['EXTERNAL', 'EC2'] },
  '10-aghcampus-ec2-describe.json': { ecs: ['EC2'], berth: ['EXTERNAL', 'EC2'] },
  '11-avcorn-ec2-awsvpc-describe.json': { ecs: ['EC2'], berth: ['EC2'] },
  '20-banbury-describe-fargate.json': { ecs: ['EC2', 'FARGATE'], berth: ['EC2', 'FARGATE'] },
};

/**
 * Attributes Berth computes that the recorded answer lacks, and why. 04's stored file has health
 * checks (bare `command` only) that its recorded requiresAttributes predates: ECS adds
 * container-health-check for any health check, as other real describe outputs show.
 */
const extraAttributes: Record<string, string[]> = {
  '04-river-level-bridge-describe.json': ['ecs.capability.container-health-check'],
};

const attributeNames = (list: unknown): string[] =>
  ((list as { name: string }[] | undefined) ?? []).map((attribute) => attribute.name).sort();

describe('conformance task definitions', () => {
  it('finds the twenty shared files', () => {
    // Assess
    expect(files).toHaveLength(20);
  });

  for (const file of files) {
    describe(file, () => {
      it('registers once describe-only fields and nulls are stripped, as ECS accepts it', () => {
        // Prepare
        const given = asRegisterInput(load(file));

        // Act
        const td = register(given);

        // Assess
        expect(td.family).toBe(given.family);
        expect(td.status).toBe('ACTIVE');
      });

      it('describes back every given field unchanged, adding only the documented defaults', () => {
        // Prepare
        const given = asRegisterInput(load(file));

        // Act
        const td = register(given);

        // Assess
        const { tags: _tags, cpu, memory, ...rest } = given;
        expectKept(rest, td, file);
        if (cpu !== undefined) expect(td.cpu).toBe(String(parseCpuUnits(cpu as string | number)));
        if (memory !== undefined) expect(td.memory).toBe(String(parseMemoryMiB(memory as string | number)));
        expect('tags' in td).toBe(false);
        expectOnlyDefaultsAdded(given, td);
      });

      const recorded = recordedCompatibilities[file];
      if (recorded !== undefined) {
        it('computes the compatibilities ECS recorded, except where Berth keeps EXTERNAL on purpose', () => {
          // Prepare
          const raw = load(file);

          // Act
          const td = register(asRegisterInput(raw));

          // Assess
          expect(raw.compatibilities).toEqual(recorded.ecs);
          expect(td.compatibilities).toEqual(recorded.berth);
        });

        it('computes the requiresAttributes ECS recorded', () => {
          // Prepare
          const raw = load(file);

          // Act
          const td = register(asRegisterInput(raw));

          // Assess
          const expected = [
            ...attributeNames(raw.requiresAttributes),
            ...(extraAttributes[file] ?? []),
          ].sort();
          expect(attributeNames(td.requiresAttributes)).toEqual(expected);
        });

        it('refuses the unstripped describe output, naming a describe-only field', () => {
          // Prepare
          const input = RegisterTaskDefinitionInput.parse(load(file));

          // Act
          const attempt = () => validateTaskDefinition(input);

          // Assess
          expect(attempt).toThrowError(BerthError);
          expect(attempt).toThrowError(
            expect.objectContaining({
              code: 'InvalidParameterException',
              message: expect.stringMatching(
                /^Unknown parameter in input: "(taskDefinitionArn|revision|status)"/,
              ),
            }),
          );
        });
      }
    });
  }
});
