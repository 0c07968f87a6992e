import { ECSClient } from '@aws-sdk/client-ecs';
import { printable } from './terminal.ts';

/** What `berth status` and `berth watch` take to reach a control plane. */
export type EndpointOptions = { endpoint?: string };

/**
 * An ECS client for a Berth endpoint: `--endpoint`, else BERTH_ENDPOINT, else whatever the AWS SDK
 * resolves (AWS_ENDPOINT_URL_ECS, a profile's `services` section). Credentials and region come from
 * the standard AWS variables and profile, as for the AWS CLI.
 */
export const ecsClientFor = (options: EndpointOptions, env: NodeJS.ProcessEnv = process.env): ECSClient => {
  const endpoint = options.endpoint ?? env.BERTH_ENDPOINT;
  // The SDK reads AWS_REGION only; the AWS CLI (and `berth up`'s printout) also sets AWS_DEFAULT_REGION.
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  return new ECSClient({ ...(endpoint ? { endpoint } : {}), ...(region ? { region } : {}) });
};

/** A sentence for the errors a user can fix (no credentials, no region, no endpoint), safe to print. */
export const explainClientError = (error: unknown): string => {
  const name = error instanceof Error ? error.name : '';
  // The message is the server's (or a proxy's) text: shown as it is, never obeyed.
  const message = printable(error instanceof Error ? error.message : String(error));
  if (name === 'CredentialsProviderError' || /credential/i.test(message)) {
    return `${message}\nSet AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) to Berth's keys: \`berth up\` prints the lines that set them.`;
  }
  if (/region is missing/i.test(message))
    return `${message}\nSet AWS_REGION (Berth's region, us-east-1 unless chosen).`;
  if (/ECONNREFUSED|ENOTFOUND|fetch failed/.test(message)) {
    return `${message}\nIs the control plane up? Pass --endpoint URL or set BERTH_ENDPOINT.`;
  }
  return message;
};

/**
 * Seconds, minutes, hours or days ago, right-aligned in 8 characters so that a column of ages keeps
 * its width as they change; times in the future (another clock) read as "just now".
 */
export const ageOf = (at: Date | undefined, now: Date): string => {
  if (!at) return '-'.padStart(8);
  const seconds = Math.floor((now.getTime() - at.getTime()) / 1000);
  const text =
    seconds < 1
      ? 'just now'
      : seconds < 120
        ? `${seconds}s ago`
        : seconds < 7200
          ? `${Math.floor(seconds / 60)}m ago`
          : seconds < 172_800
            ? `${Math.floor(seconds / 3600)}h ago`
            : `${Math.floor(seconds / 86_400)}d ago`;
  return text.padStart(8);
};

/** The last segment of an ARN (task, instance, cluster): ids are unique per cluster. */
export const idOf = (arn: string | undefined): string => arn?.split('/').pop() ?? '-';

/** `family:revision` of a task-definition ARN (its last segment). */
export const definitionOf = idOf;

/**
 * Lays rows out in columns, two spaces apart; the last column is not padded. Cells are made
 * printable first (they hold what the control plane answered), so a cell is one line.
 */
export const table = (cells: string[][], indent = ''): string[] => {
  const rows = cells.map((row) => row.map(printable));
  const widths: number[] = [];
  for (const row of rows) {
    for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, cell.length);
  }
  return rows.map(
    (row) =>
      indent +
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
  );
};
