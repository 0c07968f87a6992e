import { invalidParameter } from '../errors.ts';

/**
 * Task-level `cpu` and `memory` as ECS reads them. RegisterTaskDefinition takes either an integer
 * count of units (CPU units, MiB) or a string: the same integer, or a number with a unit
 * ("1 vCPU", "0.5 vcpu"; "2 GB", "1GB"). ECS stores the integer, and describe answers it as a string.
 */

const cpuUnitsPerVcpu = 1024;
const mibPerGb = 1024;

const plainInteger = /^\s*(\d+)\s*$/;
const vcpuForm = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*vcpus?\s*$/i;
const gbForm = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*gb\s*$/i;

const fromInteger = (value: number, what: string, given: unknown): number => {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw invalidParameter(`Invalid ${what} value: ${JSON.stringify(given)}. Expected a whole number.`);
  }
  return value;
};

/** "1.5" × 1024 must land on a whole unit: ECS has no fractional CPU units or MiB. */
const scaled = (amount: string, factor: number, what: string, given: unknown): number => {
  const units = Number(amount) * factor;
  if (!Number.isSafeInteger(units)) {
    throw invalidParameter(`Invalid ${what} value: ${JSON.stringify(given)} is not a whole number of units.`);
  }
  return units;
};

const parseUnits = (
  value: string | number,
  what: string,
  unitForm: RegExp,
  factor: number,
  example: string,
): number => {
  if (typeof value === 'number') return fromInteger(value, what, value);
  if (typeof value !== 'string')
    throw invalidParameter(`Invalid ${what} value: expected a string or a number.`);
  const integer = plainInteger.exec(value);
  if (integer?.[1] !== undefined) return fromInteger(Number(integer[1]), what, value);
  const withUnit = unitForm.exec(value);
  if (withUnit?.[1] !== undefined) return scaled(withUnit[1], factor, what, value);
  throw invalidParameter(
    `Invalid ${what} value: ${JSON.stringify(value)}. Use a whole number or a form like "${example}".`,
  );
};

/** CPU units from `256`, `"256"`, `"1 vCPU"` (1024) or `"0.5 vcpu"` (512). Throws InvalidParameterException otherwise. */
export const parseCpuUnits = (value: string | number): number =>
  parseUnits(value, 'cpu', vcpuForm, cpuUnitsPerVcpu, '1 vCPU');

/** MiB from `512`, `"512"`, `"2 GB"` (2048), `"1GB"` or `"0.5 GB"` (512). Throws InvalidParameterException otherwise. */
export const parseMemoryMiB = (value: string | number): number =>
  parseUnits(value, 'memory', gbForm, mibPerGb, '1 GB');
