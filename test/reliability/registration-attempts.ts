import { CreateActivationCommand, type SSMClient } from '@aws-sdk/client-ssm';

/** A fresh activation (id and code) for registration attempts. */
export const newActivation = async (ssm: SSMClient, iamRole: string, registrationLimit = 1) => {
  const created = await ssm.send(
    new CreateActivationCommand({ IamRole: iamRole, RegistrationLimit: registrationLimit }),
  );
  return { id: created.ActivationId as string, code: created.ActivationCode as string };
};

/** One registration attempt at `host`, as an agent (or a guesser) sends it, and what it was answered. */
export const attemptRegistration = (host: { endpoint: string }, cluster: string, id: string, code: string) =>
  fetch(`${host.endpoint}/agent/v1/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      activationId: id,
      activationCode: code,
      cluster,
      hostname: 'guesser',
      agentVersion: '0.1.0',
      resources: { cpu: 1024, memory: 1024 },
    }),
  }).then(async (response) => ({
    status: response.status,
    retryAfter: response.headers.get('retry-after'),
    body: (await response.json()) as { code: string },
  }));
