import { adminKeys } from './admin-keys.ts';
import { agentFiles } from './agent-bundle.ts';
import { deadLetters } from './dead-letters.ts';
import { accountId, queueArns, queuePrefix, region } from './doorbell.ts';
import { table, tableReadWrite, tableResources } from './table.ts';

// The stage's Lambdas: few, thin (routing happens in code), each with only the permissions it
// uses. Runtime and architecture are pinned for all of them in infra/defaults.ts.

/** What every handler reads (functions/deps.ts). */
const environment = {
  BERTH_TABLE: table.name,
  BERTH_REGION: region,
  BERTH_ACCOUNT_ID: accountId,
  BERTH_STAGE: $app.stage,
  BERTH_DOORBELL_QUEUE_PREFIX: queuePrefix,
  POWERTOOLS_SERVICE_NAME: 'berth',
  POWERTOOLS_LOG_LEVEL: 'INFO',
};

const readWriteTable = { actions: tableReadWrite, resources: tableResources };
const ringDoorbells = { actions: ['sqs:SendMessage'], resources: [queueArns] };

/** `POST /`: the ECS/SSM API. Rings on RunTask/StopTask, deletes a queue on deregistration. */
export const ecsApi = new sst.aws.Function('EcsApi', {
  handler: 'functions/ecs-api.handler',
  description: 'Berth operator API (ECS/SSM, SigV4)',
  memory: '512 MB',
  timeout: '29 seconds',
  environment: { ...environment, BERTH_ADMIN_KEYS_PARAMETER: adminKeys.name },
  permissions: [
    readWriteTable,
    ringDoorbells,
    { actions: ['sqs:DeleteQueue'], resources: [queueArns] },
    // SecureString under the AWS-managed aws/ssm key: GetParameter is all the role needs.
    { actions: ['ssm:GetParameter'], resources: [adminKeys.arn] },
  ],
});

/** `/agent/v1/…`: register (creates the instance's doorbell queue) and sync — the hot path; and the installer. */
export const agentApi = new sst.aws.Function('AgentApi', {
  handler: 'functions/agent-api.handler',
  description: 'Berth agent API (register, sync, installer)',
  memory: '256 MB',
  timeout: '29 seconds',
  environment,
  copyFiles: agentFiles,
  permissions: [
    readWriteTable,
    { actions: ['sqs:CreateQueue', 'sqs:TagQueue', 'sqs:DeleteQueue'], resources: [queueArns] },
    // The doorbell addresses it hands out are ReceiveMessage requests presigned with its own role.
    { actions: ['sqs:ReceiveMessage'], resources: [queueArns] },
  ],
  transform: {
    // Every agent syncs every minute: drop Lambda's START/END/REPORT lines (warnings and errors
    // stay), which would otherwise be most of this function's log ingestion bill.
    function: (args) => {
      args.loggingConfig = $output(args.loggingConfig).apply((config) => ({
        logFormat: 'JSON',
        ...config,
        systemLogLevel: 'WARN',
        applicationLogLevel: 'INFO',
      }));
    },
  },
});

/** Maps an agent token to its doorbell queue for the long-poll route; cached by API Gateway. */
export const doorbellAuthorizer = new sst.aws.Function('DoorbellAuthorizer', {
  handler: 'functions/doorbell-authorizer.handler',
  description: 'Berth doorbell authorizer (token -> queue URL)',
  memory: '128 MB',
  timeout: '5 seconds',
  environment,
  permissions: [{ actions: ['dynamodb:GetItem'], resources: [table.arn] }],
});

/** The table stream's consumer (subscribed in infra/reconciler.ts). */
export const reconciler = new sst.aws.Function('Reconciler', {
  handler: 'functions/reconciler.handler',
  description: 'Berth reconciler (table stream)',
  memory: '512 MB',
  timeout: '2 minutes',
  environment,
  permissions: [
    readWriteTable,
    ringDoorbells,
    {
      actions: [
        'dynamodb:DescribeStream',
        'dynamodb:GetRecords',
        'dynamodb:GetShardIterator',
        'dynamodb:ListStreams',
      ],
      resources: [table.nodes.table.streamArn],
    },
    // The event source mapping sends failed batches to the dead-letter queue with this role.
    { actions: ['sqs:SendMessage'], resources: [deadLetters.arn] },
  ],
});

/** Every minute: disconnected agents, stuck tasks, timers (scheduled in infra/sweeper.ts). */
export const sweeper = new sst.aws.Function('Sweeper', {
  handler: 'functions/sweeper.handler',
  description: 'Berth sweeper (every minute)',
  memory: '512 MB',
  timeout: '50 seconds',
  environment,
  permissions: [readWriteTable, ringDoorbells],
});

/** By role, for the dashboard and alarms. */
export const handlers = { ecsApi, agentApi, doorbellAuthorizer, reconciler, sweeper };
