import { api } from './api.ts';
import { dashboardBody } from './dashboard-body.ts';
import { deadLetters } from './dead-letters.ts';
import { region } from './doorbell.ts';
import { handlers } from './functions.ts';
import { table } from './table.ts';

/** One dashboard per stage (the first three of an account are free, then $3 a month each). */
export const dashboard = new aws.cloudwatch.Dashboard('Dashboard', {
  dashboardName: `berth-${$app.stage}`,
  dashboardBody: $resolve({
    region,
    apiId: api.nodes.api.id,
    deadLetterQueue: deadLetters.nodes.queue.name,
    table: table.name,
    ecsApi: handlers.ecsApi.name,
    agentApi: handlers.agentApi.name,
    doorbellAuthorizer: handlers.doorbellAuthorizer.name,
    reconciler: handlers.reconciler.name,
    sweeper: handlers.sweeper.name,
  }).apply(({ region, apiId, deadLetterQueue, table, ...functions }) =>
    JSON.stringify(
      dashboardBody({
        region,
        stage: $app.stage,
        apiId,
        deadLetterQueue,
        table,
        functions,
        ecsApiLogGroup: `/aws/lambda/${functions.ecsApi}`,
      }),
    ),
  ),
});
