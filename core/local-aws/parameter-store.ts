import { z } from 'zod';
import { stripKeys } from '../db/items.ts';
import { actionAttempts, done, optimistic, retry } from '../db/optimistic.ts';
import {
  deleteParameterItems,
  getParameter,
  getParameterVersion,
  listParametersPage,
  putParameterVersion,
} from '../db/parameters.ts';
import { defineAction } from '../ecs/action.ts';
import type { ActionContext } from '../ecs/context.ts';
import { BerthError } from '../errors.ts';
import {
  checkParameterName,
  defaultSecureStringKeyId,
  maxValueLength,
  normalizePath,
  type ParameterRecord,
  ParameterTiers,
  ParameterTypes,
  parameterArn,
  parentPathOf,
  parseParameterReference,
} from '../model/parameter.ts';
import { epochSeconds } from '../model/time.ts';
import { sealerOf } from './sealer.ts';

/**
 * SSM Parameter Store, the subset a task needs (`berth up` only): PutParameter, GetParameter,
 * GetParameters, GetParametersByPath, DeleteParameter(s) and DescribeParameters, in SSM's shapes and
 * with SSM's errors. SecureString values are sealed at rest with the data dir's key.
 */

const validation = (message: string) => new BerthError('ValidationException', 'input', message);

const parameterNotFound = (name: string) =>
  new BerthError('ParameterNotFound', 'not_found', `Parameter ${name} not found.`);

/** SSM names a parameter's bound for sealing so a sealed value cannot be moved to another one. */
const sealedFor = (name: string) => `ssm-parameter:${name}`;

const arnOf = (context: ActionContext, name: string) =>
  parameterArn(context.config.region, context.config.accountId, name);

/** The value as GetParameter answers it: a SecureString opened only WithDecryption. */
const answeredValue = (context: ActionContext, record: ParameterRecord, withDecryption: boolean): string =>
  record.parameterType === 'SecureString' && withDecryption
    ? sealerOf(context).open(record.value, sealedFor(record.name))
    : record.parameterType === 'SecureString'
      ? Buffer.from(record.value).toString('base64')
      : record.value;

const parameterOutput = (
  context: ActionContext,
  record: ParameterRecord,
  withDecryption: boolean,
  selector?: string,
) => ({
  Name: record.name,
  Type: record.parameterType,
  Value: answeredValue(context, record, withDecryption),
  Version: record.version,
  ...(selector ? { Selector: selector } : {}),
  LastModifiedDate: epochSeconds(record.lastModifiedDate),
  ARN: arnOf(context, record.name),
  DataType: record.dataType,
});

const metadataOutput = (context: ActionContext, record: ParameterRecord) => ({
  Name: record.name,
  ARN: arnOf(context, record.name),
  Type: record.parameterType,
  ...(record.keyId ? { KeyId: record.keyId } : {}),
  LastModifiedDate: epochSeconds(record.lastModifiedDate),
  LastModifiedUser: record.lastModifiedUser,
  ...(record.description !== undefined ? { Description: record.description } : {}),
  ...(record.allowedPattern !== undefined ? { AllowedPattern: record.allowedPattern } : {}),
  Version: record.version,
  Tier: record.tier,
  Policies: [],
  DataType: record.dataType,
});

/** Finds what a name, ARN or `name:version` reference points at; undefined when nothing. */
const findParameter = async (
  context: ActionContext,
  reference: string,
): Promise<{ record: ParameterRecord; selector?: string } | undefined> => {
  const parsed = parseParameterReference(reference, context.config.region, context.config.accountId);
  for (const name of parsed.names) {
    const head = await getParameter(context.db, name);
    if (!head) continue;
    if (parsed.version === undefined) return { record: head };
    const version =
      parsed.version === head.version ? head : await getParameterVersion(context.db, name, parsed.version);
    if (!version) {
      throw new BerthError(
        'ParameterVersionNotFound',
        'not_found',
        `Systems Manager could not find version ${parsed.version} of ${name}. Verify the version and try again.`,
      );
    }
    return { record: version, ...(parsed.selector ? { selector: parsed.selector } : {}) };
  }
  return undefined;
};

const SsmTag = z.object({ Key: z.string().min(1).max(128), Value: z.string().max(256) });

export const putParameter = defineAction(
  z.object({
    Name: z.string().min(1).max(2048),
    Value: z.string().min(1, 'must be at least 1 character long'),
    Type: z.enum(ParameterTypes).optional(),
    Description: z.string().max(1024).optional(),
    KeyId: z.string().min(1).max(256).optional(),
    Overwrite: z.boolean().optional(),
    AllowedPattern: z.string().max(1024).optional(),
    Tags: z.array(SsmTag).max(1000).optional(),
    Tier: z.enum(ParameterTiers).optional(),
    Policies: z.string().optional(),
    DataType: z.string().optional(),
  }),
  async (context, input) => {
    const name = checkParameterName(input.Name, context.config.region, context.config.accountId);
    if (input.Overwrite && input.Tags?.length) {
      throw validation(
        "Invalid request: tags and overwrite can't be used together. To create a parameter with tags, please remove overwrite flag. To update tags for an existing parameter, please use AddTagsToResource or RemoveTagsFromResource.",
      );
    }
    if (input.DataType !== undefined && input.DataType !== 'text') {
      throw validation(`Berth keeps parameters of DataType text only, not ${input.DataType}.`);
    }
    if (input.Policies !== undefined && input.Policies !== '[]') {
      throw validation('Berth does not apply parameter policies (expiration, notification).');
    }
    let pattern: RegExp | undefined;
    if (input.AllowedPattern !== undefined) {
      try {
        pattern = new RegExp(input.AllowedPattern);
      } catch {
        throw validation(
          `AllowedPattern ${JSON.stringify(input.AllowedPattern)} is not a valid regular expression.`,
        );
      }
    }
    const sealer = sealerOf(context);
    return optimistic(
      { maxAttempts: actionAttempts, exhausted: `The parameter ${name} is changing too fast; try again.` },
      async () => {
        const existing = await getParameter(context.db, name);
        if (existing && !input.Overwrite) {
          throw new BerthError(
            'ParameterAlreadyExists',
            'conflict',
            'The parameter already exists. To overwrite this value, set the overwrite option in the request to true.',
          );
        }
        const parameterType = input.Type ?? existing?.parameterType;
        if (!parameterType) throw validation('A parameter type is required when you create a parameter.');
        if (input.KeyId !== undefined && parameterType !== 'SecureString') {
          throw validation('KeyId is required for SecureString type parameter only.');
        }
        const allowedPattern = input.AllowedPattern ?? existing?.allowedPattern;
        const effectivePattern =
          pattern ?? (allowedPattern !== undefined ? new RegExp(allowedPattern) : undefined);
        if (effectivePattern && !effectivePattern.test(input.Value)) {
          throw new BerthError(
            'ParameterPatternMismatchException',
            'input',
            `Parameter value, cannot be validated against allowedPattern: ${allowedPattern}`,
          );
        }
        const fitsStandard = input.Value.length <= maxValueLength.Standard;
        const tier =
          existing?.tier === 'Advanced' || input.Tier === 'Advanced'
            ? 'Advanced'
            : input.Tier === 'Intelligent-Tiering' && !fitsStandard
              ? 'Advanced'
              : 'Standard';
        if (input.Value.length > maxValueLength[tier]) {
          throw validation(
            tier === 'Standard'
              ? 'Standard tier parameters support a maximum parameter value of 4096 characters. To create a larger parameter value, upgrade the parameter to use the advanced-parameter tier.'
              : 'Advanced tier parameters support a maximum parameter value of 8192 characters.',
          );
        }
        const description = input.Description ?? existing?.description;
        const record: ParameterRecord = {
          type: 'parameter',
          name,
          parentPath: parentPathOf(name),
          parameterType,
          value: parameterType === 'SecureString' ? sealer.seal(input.Value, sealedFor(name)) : input.Value,
          version: (existing?.version ?? 0) + 1,
          tier,
          dataType: 'text',
          ...(description !== undefined ? { description } : {}),
          ...(allowedPattern !== undefined ? { allowedPattern } : {}),
          ...(parameterType === 'SecureString'
            ? { keyId: input.KeyId ?? existing?.keyId ?? defaultSecureStringKeyId }
            : {}),
          lastModifiedDate: context.now().toISOString(),
          lastModifiedUser: `arn:aws:iam::${context.config.accountId}:user/${context.caller.accessKeyId}`,
          tags: existing?.tags ?? Object.fromEntries((input.Tags ?? []).map((tag) => [tag.Key, tag.Value])),
        };
        if (!(await putParameterVersion(context.db, record))) return retry();
        return done({ Version: record.version, Tier: record.tier });
      },
    );
  },
);

export const getParameterAction = defineAction(
  z.object({ Name: z.string().min(1).max(2048), WithDecryption: z.boolean().optional() }),
  async (context, input) => {
    const found = await findParameter(context, input.Name);
    if (!found) throw parameterNotFound(input.Name);
    return {
      Parameter: parameterOutput(context, found.record, input.WithDecryption ?? false, found.selector),
    };
  },
);

export const getParameters = defineAction(
  z.object({
    Names: z.array(z.string().min(1).max(2048)).min(1).max(10, 'must hold at most 10 names'),
    WithDecryption: z.boolean().optional(),
  }),
  async (context, input) => {
    const names = [...new Set(input.Names)];
    const found = await Promise.all(
      names.map(async (name) => {
        try {
          return await findParameter(context, name);
        } catch (error) {
          // A malformed name or a missing version is an invalid parameter here, as in SSM.
          if (error instanceof BerthError && error.kind !== 'internal' && error.kind !== 'unavailable')
            return undefined;
          throw error;
        }
      }),
    );
    const parameters = [];
    const invalid: string[] = [];
    for (const [index, hit] of found.entries()) {
      if (hit)
        parameters.push(parameterOutput(context, hit.record, input.WithDecryption ?? false, hit.selector));
      else invalid.push(names[index] as string);
    }
    return { Parameters: parameters, InvalidParameters: invalid };
  },
);

const ParameterStringFilter = z.object({
  Key: z.string().min(1).max(132),
  Option: z.string().optional(),
  Values: z.array(z.string().min(1).max(1024)).min(1).max(50).optional(),
});
type ParameterStringFilter = z.infer<typeof ParameterStringFilter>;

/** The record attribute each filter key reads. */
const filterAttributes: Record<string, string> = {
  Name: 'name',
  Type: 'parameterType',
  KeyId: 'keyId',
  Tier: 'tier',
  DataType: 'dataType',
};

/** ParameterFilters as one DynamoDB FilterExpression over the records. */
const filterExpressionOf = (
  filters: readonly ParameterStringFilter[],
  allowed: readonly string[],
): { expression: string; names: Record<string, string>; values: Record<string, unknown> } | undefined => {
  const clauses: string[] = [];
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  let next = 0;
  const valueName = (value: unknown) => {
    const placeholder = `:f${next++}`;
    values[placeholder] = value;
    return placeholder;
  };
  for (const filter of filters) {
    if (!allowed.includes(filter.Key)) {
      throw validation(
        `Berth filters parameters by ${allowed.join(', ')}; the filter key ${JSON.stringify(filter.Key)} is not supported.`,
      );
    }
    const given = filter.Values ?? [];
    if (filter.Key === 'Path') {
      const option = filter.Option ?? 'OneLevel';
      if (option !== 'OneLevel' && option !== 'Recursive') {
        throw validation(`The Path filter's Option is OneLevel or Recursive, not ${option}.`);
      }
      if (given.length !== 1) throw validation('The Path filter takes exactly one value.');
      const path = normalizePath(given[0] as string);
      if (option === 'OneLevel') {
        names['#parentPath'] = 'parentPath';
        clauses.push(`#parentPath = ${valueName(path)}`);
      } else {
        names['#name'] = 'name';
        clauses.push(`begins_with(#name, ${valueName(path === '/' ? '/' : `${path}/`)})`);
      }
      continue;
    }
    if (given.length === 0) throw validation(`The ${filter.Key} filter needs at least one value.`);
    const attribute = `#${filterAttributes[filter.Key]}`;
    names[attribute] = filterAttributes[filter.Key] as string;
    const option = filter.Option ?? 'Equals';
    if (option === 'Equals') {
      clauses.push(`${attribute} IN (${given.map(valueName).join(', ')})`);
    } else if ((option === 'BeginsWith' || option === 'Contains') && filter.Key === 'Name') {
      const fn = option === 'BeginsWith' ? 'begins_with' : 'contains';
      clauses.push(`(${given.map((value) => `${fn}(${attribute}, ${valueName(value)})`).join(' OR ')})`);
    } else {
      throw validation(`The ${filter.Key} filter does not take the option ${option}.`);
    }
  }
  return clauses.length ? { expression: clauses.join(' AND '), names, values } : undefined;
};

export const getParametersByPath = defineAction(
  z.object({
    Path: z.string().min(1).max(2048),
    Recursive: z.boolean().optional(),
    ParameterFilters: z.array(ParameterStringFilter).optional(),
    WithDecryption: z.boolean().optional(),
    MaxResults: z.number().int().min(1).max(10).optional(),
    NextToken: z.string().optional(),
  }),
  async (context, input) => {
    const path = normalizePath(input.Path);
    const filters: ParameterStringFilter[] = [
      ...(input.ParameterFilters ?? []),
      ...(input.Recursive ? [] : [{ Key: 'Path', Option: 'OneLevel', Values: [path] }]),
    ];
    const page = await listParametersPage(context.db, {
      prefix: path === '/' ? '/' : `${path}/`,
      filter: filterExpressionOf(filters, ['Type', 'KeyId', 'Path']),
      limit: input.MaxResults ?? 10,
      nextToken: input.NextToken,
    });
    return {
      Parameters: page.items.map((item) =>
        parameterOutput(context, stripKeys<ParameterRecord>(item), input.WithDecryption ?? false),
      ),
      ...(page.nextToken ? { NextToken: page.nextToken } : {}),
    };
  },
);

export const describeParameters = defineAction(
  z.object({
    Filters: z
      .array(z.object({ Key: z.enum(['Name', 'Type', 'KeyId']), Values: z.array(z.string()).min(1).max(50) }))
      .optional(),
    ParameterFilters: z.array(ParameterStringFilter).optional(),
    MaxResults: z.number().int().min(1).max(50).optional(),
    NextToken: z.string().optional(),
    Shared: z.boolean().optional(),
  }),
  async (context, input) => {
    if (input.Filters?.length && input.ParameterFilters?.length) {
      throw validation('You can use either Filters or ParameterFilters in a single request, not both.');
    }
    const filters: ParameterStringFilter[] = input.Filters
      ? input.Filters.map((filter) => ({
          Key: filter.Key,
          Option: filter.Key === 'Name' ? 'BeginsWith' : 'Equals',
          Values: filter.Values,
        }))
      : (input.ParameterFilters ?? []);
    const page = await listParametersPage(context.db, {
      filter: filterExpressionOf(filters, ['Name', 'Type', 'KeyId', 'Tier', 'DataType', 'Path']),
      limit: input.MaxResults ?? 50,
      nextToken: input.NextToken,
    });
    return {
      Parameters: page.items.map((item) => metadataOutput(context, stripKeys<ParameterRecord>(item))),
      ...(page.nextToken ? { NextToken: page.nextToken } : {}),
    };
  },
);

/** Deletes a parameter given by name; false when there is none. */
const deleteByName = async (context: ActionContext, name: string): Promise<boolean> => {
  if (!(await getParameter(context.db, name))) return false;
  await deleteParameterItems(context.db, name);
  return true;
};

export const deleteParameter = defineAction(
  z.object({ Name: z.string().min(1).max(2048) }),
  async (context, input) => {
    if (!(await deleteByName(context, input.Name))) throw parameterNotFound(input.Name);
    return {};
  },
);

export const deleteParameters = defineAction(
  z.object({ Names: z.array(z.string().min(1).max(2048)).min(1).max(10, 'must hold at most 10 names') }),
  async (context, input) => {
    const names = [...new Set(input.Names)];
    const deleted = await Promise.all(names.map((name) => deleteByName(context, name)));
    return {
      DeletedParameters: names.filter((_, index) => deleted[index]),
      InvalidParameters: names.filter((_, index) => !deleted[index]),
    };
  },
);
