// Berth's own admin key pair for this stage, made once at the first deploy and kept in SSM
// Parameter Store as a SecureString (JSON `{accessKeyId, secretAccessKey}`). The operator API reads
// it with Powertools Parameters (functions/admin-keys.ts). Random resources keep their value in
// the stage's state, so later deploys neither change the keys nor print them.
const keyId = new random.RandomString('AdminAccessKeyIdSuffix', {
  length: 16,
  upper: true,
  lower: false,
  numeric: true,
  special: false,
});
const secret = new random.RandomPassword('AdminSecretAccessKey', { length: 40, special: false });

// After the first deploy the parameter is the operator's: a rotation (docs/deploy.md) writes a new
// value, which later deploys must not put back.
export const adminKeys = new aws.ssm.Parameter(
  'AdminKeys',
  {
    name: `/berth/${$app.stage}/admin-keys`,
    description: `Berth admin access key pair of stage ${$app.stage} (SigV4 keys for the ECS API).`,
    type: 'SecureString',
    value: $jsonStringify({ accessKeyId: $interpolate`AKIA${keyId.result}`, secretAccessKey: secret.result }),
  },
  { ignoreChanges: ['value'] },
);
