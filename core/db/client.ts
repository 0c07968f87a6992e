import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** The table handle every repository function takes. SDK objects never leave core/db. */
export type Db = {
  readonly doc: DynamoDBDocumentClient;
  readonly table: string;
};

export type DbOptions = {
  table: string;
  region: string;
  /** DynamoDB Local's URL; absent on AWS. */
  endpoint?: string;
};

export const createDb = (options: DbOptions): Db => {
  const client = new DynamoDBClient({
    region: options.region,
    ...(options.endpoint
      ? {
          endpoint: options.endpoint,
          // DynamoDB Local accepts any alphanumeric key; never let it pick up real ones by accident.
          credentials: { accessKeyId: 'berthlocal', secretAccessKey: 'berthlocal' },
        }
      : {}),
    maxAttempts: 5,
  });
  const doc = DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
  return { doc, table: options.table };
};
