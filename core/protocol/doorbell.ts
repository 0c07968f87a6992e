/** SQS's answer when the wait ended with no message. */
const isEmptyReceive = (body: string): boolean =>
  body.trim() === '{}' ||
  /ReceiveMessage(Response|Result)/.test(body) ||
  /"Messages"\s*:\s*\[\s*\]/.test(body);

/**
 * Reading the answer to `GET /agent/v1/doorbell?wait=20`, which differs by host: `berth up` answers
 * `{"rung": true|false}`; on AWS the answer is SQS's own ReceiveMessage response (API Gateway passes
 * it through), which holds a message when the doorbell was rung. The agent treats anything it does
 * not recognise as rung: an unneeded sync costs one request, a missed one costs a heartbeat.
 */
export const doorbellAnswerRung = (statusCode: number, body: string): boolean => {
  if (statusCode !== 200) return true;
  try {
    const parsed: unknown = JSON.parse(body);
    if (parsed && typeof parsed === 'object' && 'rung' in parsed && typeof parsed.rung === 'boolean') {
      return parsed.rung;
    }
  } catch {
    // Not JSON: SQS answers XML to query-protocol callers; fall through to the message check.
  }
  // SQS's ReceiveMessage answer, in any of its encodings, names a MessageId for every message it
  // holds; an empty one is `{}` (JSON protocol) or a bare ReceiveMessageResponse (query protocol).
  if (/MessageId/.test(body)) return true;
  return !isEmptyReceive(body);
};
