import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { atomicWriteFile, readTextIfExists } from './files.ts';
import { objectAt, parseJson, stringAt } from './shape.ts';

/** Who this agent is to the control plane: written once at registration, reused on every start. */
export type Identity = {
  containerInstanceArn: string;
  cluster: string;
  /** The bearer token: shown once by the server, so losing this file means registering again. */
  token: string;
  endpoint: string;
  registeredAt: string;
};

/** Where the identity lives in the data dir. */
export const identityFileOf = (dataDir: string) => join(dataDir, 'identity.json');

/** The saved identity, or undefined before the first registration. */
export const loadIdentity = (dataDir: string): Identity | undefined => {
  const text = readTextIfExists(identityFileOf(dataDir));
  if (text === undefined) return undefined;
  const what = identityFileOf(dataDir);
  const file = objectAt(parseJson(text, what), what);
  return {
    containerInstanceArn: stringAt(file, 'containerInstanceArn', what),
    cluster: stringAt(file, 'cluster', what),
    token: stringAt(file, 'token', what),
    endpoint: stringAt(file, 'endpoint', what),
    registeredAt: stringAt(file, 'registeredAt', what),
  };
};

/** Saved 0600: the token lets anyone act as this instance. */
export const saveIdentity = (dataDir: string, identity: Identity): void => {
  const path = identityFileOf(dataDir);
  atomicWriteFile(path, `${JSON.stringify(identity, null, 2)}\n`, 0o600);
  chmodSync(path, 0o600);
};
