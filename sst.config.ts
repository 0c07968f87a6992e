/// <reference path="./.sst/platform/config.d.ts" />

// One concern a file in infra/; this file only wires them in order (each import creates its resources).
export default $config({
  async app(input) {
    const { isProtectedStage, regionOf } = await import('./infra/stage-policy.ts');
    const precious = isProtectedStage(input?.stage);
    return {
      name: 'berth',
      home: 'aws',
      removal: precious ? 'retain' : 'remove',
      protect: precious,
      // Every provider infra/ imports must be listed, so `sst install` fetches it before the config loads.
      providers: { aws: { region: regionOf(process.env) }, random: '4.18.0' },
    };
  },
  async run() {
    await import('./infra/defaults.ts');
    const { table } = await import('./infra/table.ts');
    const { adminKeys } = await import('./infra/admin-keys.ts');
    const { api } = await import('./infra/api.ts');
    await import('./infra/reconciler.ts');
    const { deadLetters } = await import('./infra/dead-letters.ts');
    await import('./infra/sweeper.ts');
    const { alarmTopic } = await import('./infra/alarms.ts');
    const { dashboard } = await import('./infra/dashboard.ts');
    return {
      endpoint: api.url,
      table: table.name,
      adminKeysParameter: adminKeys.name,
      getAdminKeys: $interpolate`aws ssm get-parameter --region ${aws.getRegionOutput().region} --name ${adminKeys.name} --with-decryption --query Parameter.Value --output text`,
      reconcilerDeadLetters: deadLetters.url,
      alarmTopic: alarmTopic.arn,
      dashboard: dashboard.dashboardName,
    };
  },
});
