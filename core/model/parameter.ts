import { BerthError } from '../errors.ts';
import type { TagMap } from './tags.ts';

/**
 * SSM Parameter Store's parameters, as `berth up` keeps them (core/local-aws/parameter-store.ts).
 * Names and their rules are SSM's: letters, digits and `_ . - /`; a name with a `/` is a path
 * (starts with `/`, at most 15 levels); `aws` and `ssm` are reserved prefixes. `#` is never in a
 * name, so a name can be part of a table key.
 */
export const ParameterTypes = ['String', 'StringList', 'SecureString'] as const;
export type ParameterType = (typeof ParameterTypes)[number];

export const ParameterTiers = ['Standard', 'Advanced', 'Intelligent-Tiering'] as const;
export type ParameterTier = 'Standard' | 'Advanced';

/** One version of a parameter: the head item holds the newest, version items the history. */
export type ParameterRecord = {
  type: 'parameter';
  name: string;
  /** The path the parameter sits directly in (`/a/b` for `/a/b/c`, `/` for `/c`, `` for `c`). */
  parentPath: string;
  parameterType: ParameterType;
  /** The value as given; for a SecureString, sealed (core/auth/seal.ts) and bound to the name. */
  value: string;
  version: number;
  tier: ParameterTier;
  dataType: 'text';
  description?: string;
  allowedPattern?: string;
  /** SecureString only: the key named at PutParameter (Berth seals with its own key whatever it is). */
  keyId?: string;
  lastModifiedDate: string;
  lastModifiedUser: string;
  tags: TagMap;
};

/** SSM keeps the last 100 versions of a parameter. */
export const maxParameterVersions = 100;
/** SSM: the whole ARN is at most 1011 characters, and a path at most 15 levels. */
const maxArnLength = 1011;
const maxLevels = 15;
export const maxValueLength: Record<ParameterTier, number> = { Standard: 4096, Advanced: 8192 };
export const defaultSecureStringKeyId = 'alias/aws/ssm';

const validation = (message: string) => new BerthError('ValidationException', 'input', message);

const nameCharacters = /^[a-zA-Z0-9_.\-/]+$/;

/** The parameter's ARN: SSM drops a path's leading `/` after `parameter`. */
export const parameterArn = (region: string, accountId: string, name: string): string =>
  `arn:aws:ssm:${region}:${accountId}:parameter${name.startsWith('/') ? '' : '/'}${name}`;

/** Checks a name as PutParameter does; returns it. */
export const checkParameterName = (name: string, region: string, accountId: string): string => {
  if (name === '' || !nameCharacters.test(name)) {
    throw validation(
      `Parameter name ${JSON.stringify(name)} is not valid: only letters, numbers and the symbols . - _ / are allowed.`,
    );
  }
  if (parameterArn(region, accountId, name).length > maxArnLength) {
    throw validation(`Parameter name is too long: its ARN may be at most ${maxArnLength} characters.`);
  }
  if (name.includes('/') && !name.startsWith('/')) {
    throw validation('Parameter name must be a fully qualified name: a name with a / starts with /.');
  }
  if (name.endsWith('/') || name.includes('//')) {
    throw validation(`Parameter name ${JSON.stringify(name)} is not valid: a path has no empty level.`);
  }
  if (/^\/?(aws|ssm)/i.test(name)) {
    throw validation(
      'Parameter name: can\'t be prefixed with "aws" or "ssm" (case-insensitive). If formed as a path, it can consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix of letters, numbers and the following 3 symbols .-_',
    );
  }
  if (name.split('/').length - 1 > maxLevels) {
    throw new BerthError(
      'HierarchyLevelLimitExceededException',
      'input',
      `A hierarchy can have a maximum of ${maxLevels} levels.`,
    );
  }
  return name;
};

/** Where a parameter sits: `/a/b` for `/a/b/c`, `/` for `/c`, `` for a name without a path. */
export const parentPathOf = (name: string): string => {
  const slash = name.lastIndexOf('/');
  if (slash < 0) return '';
  return slash === 0 ? '/' : name.slice(0, slash);
};

/** A path as GetParametersByPath and the Path filter take it: starts with `/`, no trailing `/`. */
export const normalizePath = (path: string): string => {
  if (!path.startsWith('/') || !/^[a-zA-Z0-9_.\-/]+$/.test(path) || path.includes('//')) {
    throw validation(`The parameter path ${JSON.stringify(path)} is not valid: a path starts with / .`);
  }
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
};

/** A parameter as GetParameter(s) names it: a name or ARN, with an optional `:version` selector. */
export type ParameterReference = {
  /** The names it may mean: an ARN's `parameter/a` is `a` or `/a`. */
  names: string[];
  version?: number;
  /** The selector as given (`:3`), echoed back as SSM does. */
  selector?: string;
};

export const parseParameterReference = (
  reference: string,
  region: string,
  accountId: string,
): ParameterReference => {
  const isArn = reference.startsWith('arn:');
  let rest = reference;
  if (isArn) {
    const match = /^arn:aws:ssm:([a-z0-9-]+):(\d{12}):parameter\/(.+)$/.exec(reference);
    if (!match) throw validation(`${reference} is not a valid SSM parameter ARN.`);
    const [, arnRegion, arnAccount, resource = ''] = match;
    if (arnRegion !== region || arnAccount !== accountId) {
      throw validation(`The parameter ARN ${reference} is not of this region (${region}) and account.`);
    }
    rest = resource;
  }
  const colon = rest.lastIndexOf(':');
  const selector = colon >= 0 ? rest.slice(colon) : undefined;
  if (colon >= 0) rest = rest.slice(0, colon);
  const names = !isArn ? [rest] : rest.includes('/') ? [`/${rest}`] : [rest, `/${rest}`];
  if (selector === undefined) return { names };
  if (!/^:[1-9][0-9]{0,9}$/.test(selector)) {
    throw new BerthError(
      'ParameterVersionLabelNotFound',
      'input',
      `Berth keeps parameter versions but not labels: ${JSON.stringify(selector.slice(1))} is not a version number.`,
    );
  }
  return { names, version: Number(selector.slice(1)), selector };
};
