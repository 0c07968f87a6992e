import { z } from 'zod';
import { hashSecret, isActivationId, newActivationCode, newActivationId } from '../auth/secrets.ts';
import { deleteActivation, getActivation, listActivationsPage, putActivation } from '../db/activations.ts';
import { pageLimit } from '../db/query.ts';
import { BerthError } from '../errors.ts';
import type { ActivationRecord } from '../model/activation.ts';
import { epochSeconds } from '../model/time.ts';
import { defineAction } from './action.ts';

/** SSM's own exception for bad input. */
const validation = (message: string) => new BerthError('ValidationException', 'input', message);

const dayMs = 24 * 3600 * 1000;
/** SSM: an activation expires 24 h after creation by default, and at most 30 days ahead. */
const defaultLifetimeMs = dayMs;
const maxLifetimeMs = 30 * dayMs;

const SsmTag = z.object({ Key: z.string().min(1).max(128), Value: z.string().max(256) });

const activationOutput = (activation: ActivationRecord, now: Date) => ({
  ActivationId: activation.id,
  ...(activation.description !== undefined ? { Description: activation.description } : {}),
  ...(activation.defaultInstanceName !== undefined
    ? { DefaultInstanceName: activation.defaultInstanceName }
    : {}),
  ...(activation.iamRole !== undefined ? { IamRole: activation.iamRole } : {}),
  RegistrationLimit: activation.registrationLimit,
  RegistrationsCount: activation.registrationsCount,
  ExpirationDate: epochSeconds(activation.expiresAt),
  Expired: Date.parse(activation.expiresAt) <= now.getTime(),
  CreatedDate: epochSeconds(activation.createdAt),
  Tags: Object.entries(activation.tags).map(([Key, Value]) => ({ Key, Value })),
});

export const createActivation = defineAction(
  z.looseObject({
    Description: z.string().max(256).optional(),
    DefaultInstanceName: z.string().max(256).optional(),
    IamRole: z.string().max(64).optional(),
    RegistrationLimit: z.number().int().optional(),
    ExpirationDate: z.union([z.number(), z.string()]).optional(),
    Tags: z.array(SsmTag).max(1000).optional(),
    RegistrationMetadata: z.array(z.object({ Key: z.string(), Value: z.string() })).optional(),
  }),
  async (context, input) => {
    const now = context.now();
    const limit = input.RegistrationLimit ?? 1;
    if (limit < 1 || limit > 1000) {
      throw validation('RegistrationLimit must be between 1 and 1000.');
    }
    const expiresAt =
      input.ExpirationDate === undefined
        ? new Date(now.getTime() + defaultLifetimeMs)
        : new Date(
            typeof input.ExpirationDate === 'number' ? input.ExpirationDate * 1000 : input.ExpirationDate,
          );
    if (Number.isNaN(expiresAt.getTime())) throw validation('ExpirationDate is not a valid timestamp.');
    if (expiresAt.getTime() <= now.getTime()) throw validation('ExpirationDate must be in the future.');
    if (expiresAt.getTime() > now.getTime() + maxLifetimeMs) {
      throw validation('ExpirationDate must be at most 30 days from now.');
    }
    const code = newActivationCode();
    const activation: ActivationRecord = {
      type: 'activation',
      id: newActivationId(),
      codeHash: hashSecret(code),
      description: input.Description,
      defaultInstanceName: input.DefaultInstanceName,
      iamRole: input.IamRole,
      registrationLimit: limit,
      registrationsCount: 0,
      expiresAt: expiresAt.toISOString(),
      createdAt: now.toISOString(),
      tags: Object.fromEntries((input.Tags ?? []).map((tag) => [tag.Key, tag.Value])),
    };
    await putActivation(context.db, activation);
    return { ActivationId: activation.id, ActivationCode: code };
  },
);

const Filter = z.object({
  FilterKey: z.enum(['ActivationIds', 'DefaultInstanceName', 'IamRole']),
  FilterValues: z.array(z.string()),
});

export const describeActivations = defineAction(
  z.object({
    Filters: z.array(Filter).optional(),
    MaxResults: z.number().int().optional(),
    NextToken: z.string().optional(),
  }),
  async (context, input) => {
    const now = context.now();
    const ids = input.Filters?.find((filter) => filter.FilterKey === 'ActivationIds')?.FilterValues;
    const matches = (activation: ActivationRecord) =>
      (input.Filters ?? []).every((filter) => {
        const value =
          filter.FilterKey === 'ActivationIds'
            ? activation.id
            : filter.FilterKey === 'DefaultInstanceName'
              ? activation.defaultInstanceName
              : activation.iamRole;
        return value !== undefined && filter.FilterValues.includes(value);
      });
    if (ids) {
      // Direct reads: a filter by id never pages through every activation.
      // Only a well-formed id can name an activation (and only such an id may reach a key).
      const found = await Promise.all(
        ids.slice(0, 50).map((id) => (isActivationId(id) ? getActivation(context.db, id) : undefined)),
      );
      const list = found.filter((a): a is ActivationRecord => a !== undefined && matches(a));
      return { ActivationList: list.map((activation) => activationOutput(activation, now)) };
    }
    const page = await listActivationsPage(context.db, pageLimit(input.MaxResults, 50), input.NextToken);
    const list = (page.items as unknown as ActivationRecord[]).filter(matches);
    return {
      ActivationList: list.map((activation) => activationOutput(activation, now)),
      ...(page.nextToken ? { NextToken: page.nextToken } : {}),
    };
  },
);

export const deleteActivationAction = defineAction(
  z.object({ ActivationId: z.string() }),
  async (context, input) => {
    const deleted =
      isActivationId(input.ActivationId) && (await deleteActivation(context.db, input.ActivationId));
    if (!deleted) {
      throw new BerthError(
        'InvalidActivationId',
        'not_found',
        'The activation ID is not valid. Verify that you entered the correct ActivationId or ActivationCode and try again.',
      );
    }
    return {};
  },
);
