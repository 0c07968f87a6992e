import type { _Record, AttributeValue } from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBRecord, AttributeValue as LambdaAttributeValue } from 'aws-lambda';

/**
 * Stream records: the Streams API's shape turned into the Lambda event's shape, and DynamoDB
 * Local's sequence numbers. Pure.
 */

/**
 * The sequence number after `sequenceNumber`. DynamoDB Local numbers a stream's records 1, 2, 3…
 * (21 digits); undefined for any other form (real DynamoDB's), where positions cannot be named.
 */
export const nextSequenceNumber = (sequenceNumber: string): string | undefined =>
  /^\d{1,40}$/.test(sequenceNumber)
    ? (BigInt(sequenceNumber) + 1n).toString().padStart(sequenceNumber.length, '0')
    : undefined;
// --- records: the Streams API's shape -> the Lambda event's shape ---------------------------------

const toBase64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

const attributeMembers = ['S', 'N', 'B', 'SS', 'NS', 'BS', 'M', 'L', 'NULL', 'BOOL'] as const;

/** The SDK decodes binaries to bytes; Lambda delivers the wire JSON, where they are base64 text. */
const toLambdaValue = (value: AttributeValue): LambdaAttributeValue => {
  if (value.B !== undefined) return { B: toBase64(value.B) };
  if (value.BS !== undefined) return { BS: value.BS.map(toBase64) };
  if (value.M !== undefined) return { M: toLambdaImage(value.M) };
  if (value.L !== undefined) return { L: value.L.map(toLambdaValue) };
  // The SDK reads the wire's `{"M":{}}` (an empty map) as a value with no member set; Lambda
  // delivers it as it is, and util-dynamodb's unmarshall refuses a value without a member.
  if (attributeMembers.every((member) => value[member] === undefined)) return { M: {} };
  // S, N, SS, NS, NULL and BOOL are the same JSON on both sides.
  return value as unknown as LambdaAttributeValue;
};

const toLambdaImage = (image: Record<string, AttributeValue>): Record<string, LambdaAttributeValue> =>
  Object.fromEntries(Object.entries(image).map(([name, value]) => [name, toLambdaValue(value)]));

/**
 * A stream record as Lambda hands it to a function: images stay in attribute-value JSON, the
 * creation time is epoch seconds, the source is the stream's ARN.
 */
export const toLambdaRecord = (record: _Record, streamArn: string, region: string): DynamoDBRecord => {
  const change = record.dynamodb ?? {};
  return {
    eventID: record.eventID,
    eventName: record.eventName,
    eventVersion: record.eventVersion ?? '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: region,
    dynamodb: {
      ...(change.ApproximateCreationDateTime
        ? { ApproximateCreationDateTime: Math.floor(change.ApproximateCreationDateTime.getTime() / 1000) }
        : {}),
      ...(change.Keys ? { Keys: toLambdaImage(change.Keys) } : {}),
      ...(change.NewImage ? { NewImage: toLambdaImage(change.NewImage) } : {}),
      ...(change.OldImage ? { OldImage: toLambdaImage(change.OldImage) } : {}),
      SequenceNumber: change.SequenceNumber,
      SizeBytes: change.SizeBytes,
      StreamViewType: change.StreamViewType,
    },
    eventSourceARN: streamArn,
    // Present on TTL deletions (the service principal), as in Lambda's events.
    ...(record.userIdentity ? { userIdentity: record.userIdentity } : {}),
  };
};
