import type { TagMap } from './tags.ts';

export type ActivationRecord = {
  type: 'activation';
  id: string;
  /** sha256 of the activation code: the code itself is shown once and never stored. */
  codeHash: string;
  description?: string;
  defaultInstanceName?: string;
  iamRole?: string;
  registrationLimit: number;
  registrationsCount: number;
  expiresAt: string;
  createdAt: string;
  tags: TagMap;
};
