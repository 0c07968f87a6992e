/**
 * The single table, as plain data: infra/ turns it into an SST Dynamo component and local/ into a
 * CreateTable call, so the two can never drift apart.
 */
export const tableDefinition = {
  partitionKey: 'pk',
  sortKey: 'sk',
  /** Generic, sparse indexes: only items that set the index's attributes appear in it. */
  globalIndexes: {
    gsi1: { partitionKey: 'gsi1pk', sortKey: 'gsi1sk' },
    gsi2: { partitionKey: 'gsi2pk', sortKey: 'gsi2sk' },
  },
  ttlAttribute: 'ttl',
  stream: 'NEW_AND_OLD_IMAGES',
} as const;

export type IndexName = keyof typeof tableDefinition.globalIndexes;

/** Every key attribute, all strings. */
export const keyAttributes = ['pk', 'sk', 'gsi1pk', 'gsi1sk', 'gsi2pk', 'gsi2sk'] as const;
