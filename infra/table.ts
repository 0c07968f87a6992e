import { tableDefinition } from '../core/db/table.ts';
import { isProtectedStage } from './stage-policy.ts';

const streamViewOf = {
  NEW_AND_OLD_IMAGES: 'new-and-old-images',
  NEW_IMAGE: 'new-image',
  OLD_IMAGE: 'old-image',
  KEYS_ONLY: 'keys-only',
} as const;

/** The single table, from the same definition `berth up` hands to DynamoDB Local. */
export const table = new sst.aws.Dynamo('Table', {
  fields: Object.fromEntries(
    [
      tableDefinition.partitionKey,
      tableDefinition.sortKey,
      ...Object.values(tableDefinition.globalIndexes).flatMap((index) => [index.partitionKey, index.sortKey]),
    ].map((name) => [name, 'string' as const]),
  ),
  primaryIndex: { hashKey: tableDefinition.partitionKey, rangeKey: tableDefinition.sortKey },
  globalIndexes: Object.fromEntries(
    Object.entries(tableDefinition.globalIndexes).map(([name, index]) => [
      name,
      { hashKey: index.partitionKey, rangeKey: index.sortKey, projection: 'all' as const },
    ]),
  ),
  stream: streamViewOf[tableDefinition.stream],
  ttl: tableDefinition.ttlAttribute,
  deletionProtection: isProtectedStage($app.stage),
  transform: {
    table: (args) => {
      // SST turns it on already; stated here because the design depends on it.
      args.pointInTimeRecovery = { enabled: true };
    },
  },
});

/** IAM resources for the table and its indexes. */
export const tableResources = [table.arn, $interpolate`${table.arn}/index/*`];

/** What a handler that reads and writes items may do (transactions need the per-item actions). */
export const tableReadWrite = [
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:Query',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:ConditionCheckItem',
  'dynamodb:BatchWriteItem',
];
