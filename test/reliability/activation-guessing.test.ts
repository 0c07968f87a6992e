import { CreateClusterCommand } from '@aws-sdk/client-ecs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { registrationThrottle } from '../../core/agent-api/register-instance.ts';
import { type LocalHost, startLocalHost } from '../../local/host.ts';
import { startBerth, type TestBerth } from '../integration/harness.ts';
import type { DbFaults } from '../support/db-faults.ts';
import { scenarioTimeout } from './fleet.ts';
import { scanTable, type TableItem } from './invariants.ts';
import { attemptRegistration, newActivation } from './registration-attempts.ts';

vi.setConfig({ testTimeout: scenarioTimeout(), hookTimeout: scenarioTimeout() });

/**
 * Activation codes guessed in parallel. The throttle allows 5 wrong codes per activation and 20 per
 * source address in a 5-minute window; a burst of guesses sent at once, to two control planes
 * sharing the table, must not get more of them checked than that: every guess beyond the limit is
 * answered 429 without its code being judged, and the table counts exactly the guesses judged.
 */

let berth: TestBerth;
let second: LocalHost;
/** Berth's clock, moved into a fresh throttle window for each test (the agent API is not signed). */
let clockOffsetMs = 0;
const now = () => new Date(Date.now() + clockOffsetMs);

/** Off but for one test: the answer to one counting write is lost after DynamoDB applied it. */
const faults: DbFaults = {
  rate: 0,
  kinds: ['internal'],
  seed: 16,
  when: 'after',
  commands: ['UpdateItemCommand'],
  limit: 1,
};

beforeAll(async () => {
  berth = await startBerth({ now, sweepIntervalMs: 3_600_000, dbFaults: faults });
  // A second control plane on the same table: another Lambda instance, as far as the table knows.
  second = await startLocalHost({
    dynamoEndpoint: berth.dynamoEndpoint,
    dynamoAccessKeyId: berth.dynamoAccessKeyId,
    inMemory: true,
    port: 0,
    now,
    withoutScheduler: true,
    adminKeys: berth.credentials,
  });
  await berth.ecs.send(new CreateClusterCommand({ clusterName: 'guess' }));
});

afterAll(async () => {
  await second?.stop();
  await berth?.stop();
});

const { windowSeconds, perActivation, perSourceIp } = registrationThrottle;
/** The last throttle window a test used; a test starts one second into a window of its own. */
let lastWindow = Math.floor(Date.now() / 1000 / windowSeconds) * windowSeconds;
const freshWindow = () => {
  lastWindow += windowSeconds;
  clockOffsetMs = (lastWindow + 1) * 1000 - Date.now();
};
afterEach(() => {
  clockOffsetMs = 0;
});

const activation = (registrationLimit = 1) => newActivation(berth.ssm, 'guess', registrationLimit);

const register = (host: { endpoint: string }, id: string, code: string) =>
  attemptRegistration(host, 'guess', id, code);

/** Sends all guesses at once, alternating between the two control planes. */
const burst = (guesses: readonly { id: string; code: string }[]) =>
  Promise.all(guesses.map((guess, i) => register(i % 2 === 0 ? berth : second, guess.id, guess.code)));

const statusCounts = (answers: readonly { status: number }[]) =>
  answers.reduce<Record<number, number>>((counts, { status }) => {
    counts[status] = (counts[status] ?? 0) + 1;
    return counts;
  }, {});

/** The failed attempts the table holds for a subject in the current window. */
const countedFor = async (pk: string): Promise<number> => {
  const window = `WINDOW#${lastWindow}`;
  const items = (await scanTable(berth.db)).filter((item: TableItem) => item.pk === pk && item.sk === window);
  expect(items.length).toBeLessThanOrEqual(1);
  const attempts = items[0]?.failedAttempts;
  return attempts instanceof Set ? attempts.size : 0;
};

const registrationsOf = async (id: string) =>
  (await scanTable(berth.db)).find((item) => item.pk === `ACTIVATION#${id}`)?.registrationsCount;

describe('activation codes guessed in parallel', () => {
  it.each([40, 100])(
    `judges only ${perActivation} of %i parallel wrong codes for one activation; the rest are answered 429`,
    async (guesses) => {
      // Prepare
      const target = await activation();
      freshWindow();

      // Act
      const answers = await burst(
        Array.from({ length: guesses }, (_, i) => ({ id: target.id, code: `wrong-guess-${i}` })),
      );
      const rightCode = await register(berth, target.id, target.code);

      // Assess
      expect(statusCounts(answers)).toEqual({ 401: perActivation, 429: guesses - perActivation });
      for (const answer of answers.filter((a) => a.status === 429)) {
        expect(answer.body.code).toBe('TooManyRegistrationFailures');
        expect(Number(answer.retryAfter)).toBeGreaterThan(0);
        expect(Number(answer.retryAfter)).toBeLessThanOrEqual(windowSeconds);
      }
      expect(await countedFor(`REGFAIL#ACTIVATION#${target.id}`)).toBe(perActivation);
      expect(rightCode.status).toBe(429);
      expect(await registrationsOf(target.id)).toBe(0);
    },
  );

  it(`judges only ${perSourceIp} of 100 parallel wrong codes from one address, each naming another activation`, async () => {
    // Prepare: unknown (well-formed) ids, one per guess, so only the address's limit applies.
    freshWindow();
    const ids = Array.from(
      { length: 100 },
      (_, i) =>
        `00000000-0000-4000-9000-${String(lastWindow % 1e6).padStart(6, '0')}${String(i).padStart(6, '0')}`,
    );

    // Act
    const answers = await burst(ids.map((id) => ({ id, code: 'guess' })));
    const target = await activation();
    const rightCode = await register(second, target.id, target.code);

    // Assess
    expect(statusCounts(answers)).toEqual({ 401: perSourceIp, 429: 100 - perSourceIp });
    const addressCounters = (await scanTable(berth.db)).filter(
      (item) => item.pk.startsWith('REGFAIL#IP#') && item.sk === `WINDOW#${lastWindow}`,
    );
    expect(addressCounters).toHaveLength(1);
    expect(await countedFor(addressCounters[0]!.pk)).toBe(perSourceIp);
    expect(rightCode.status).toBe(429);
  });

  it(`still registers the right code sent at once with ${perActivation - 1} wrong ones`, async () => {
    // Prepare
    const target = await activation();
    freshWindow();
    const wrong = Array.from({ length: perActivation - 1 }, (_, i) => ({
      id: target.id,
      code: `wrong-${i}`,
    }));

    // Act
    const answers = await burst([...wrong.slice(0, 2), target, ...wrong.slice(2)]);

    // Assess
    expect(answers.map((answer) => answer.status)).toEqual([401, 401, 200, 401, 401]);
    expect(await countedFor(`REGFAIL#ACTIVATION#${target.id}`)).toBe(perActivation - 1);
    expect(await registrationsOf(target.id)).toBe(1);
  });

  it('lets 30 parallel right codes from one address register, and counts none of them', async () => {
    // Prepare: more machines than either limit, registering at once from behind one address.
    const target = await activation(30);
    freshWindow();

    // Act
    const answers = await burst(Array.from({ length: 30 }, () => target));

    // Assess
    expect(statusCounts(answers)).toEqual({ 200: 30 });
    expect(await registrationsOf(target.id)).toBe(30);
    expect(
      (await scanTable(berth.db)).filter(
        (item) => item.pk.startsWith('REGFAIL#') && item.sk === `WINDOW#${lastWindow}`,
      ),
    ).toEqual([]);
  });

  it("refuses the right code when its address is throttled, leaving its activation's count as it was", async () => {
    // Prepare: two wrong codes for the activation, then the address's limit used up with unknown ids.
    const target = await activation();
    freshWindow();
    const wrong = await burst([0, 1].map((i) => ({ id: target.id, code: `wrong-${i}` })));
    const unknown = await burst(
      Array.from({ length: perSourceIp - 2 }, (_, i) => ({
        id: `00000000-0000-4000-a000-${String(lastWindow % 1e6).padStart(6, '0')}${String(i).padStart(6, '0')}`,
        code: 'guess',
      })),
    );

    // Act
    const rightCode = await register(berth, target.id, target.code);

    // Assess
    expect(statusCounts([...wrong, ...unknown])).toEqual({ 401: perSourceIp });
    expect(rightCode.status).toBe(429);
    expect(await countedFor(`REGFAIL#ACTIVATION#${target.id}`)).toBe(2);
    expect(await registrationsOf(target.id)).toBe(0);
  });

  it('counts a wrong code once when the answer to its counting write is lost and the SDK retries it', async () => {
    // Prepare
    const target = await activation();
    freshWindow();

    // Act: DynamoDB applies the first counting write, its answer is lost, the SDK sends it again.
    faults.rate = 1;
    const first = await register(berth, target.id, 'wrong-lost-answer');
    faults.rate = 0;
    const counted = await countedFor(`REGFAIL#ACTIVATION#${target.id}`);
    const more = await burst(
      Array.from({ length: perActivation }, (_, i) => ({ id: target.id, code: `wrong-${i}` })),
    );

    // Assess
    expect(faults.injected).toEqual({ 'attempt:after:internal:UpdateItemCommand': 1 });
    expect(first.status).toBe(401);
    expect(counted).toBe(1);
    expect(statusCounts(more)).toEqual({ 401: perActivation - 1, 429: 1 });
  });
});
