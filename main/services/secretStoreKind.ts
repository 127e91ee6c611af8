/**
 * What every desktop secret store is: a `CredentialStore` that also says, for the UI, what kind
 * it is. Apart from secretStore.ts (which chooses one) so that the stores need not import the
 * module that chooses between them.
 */
import type { z } from 'zod';
import type { CredentialStore } from '../../gateway-client/credentialStore.ts';
import type { secretStoreStatusSchema } from '../ipc/contract.ts';

export type SecretStoreStatus = z.infer<typeof secretStoreStatusSchema>;

export interface SecretStore extends CredentialStore {
  readonly status: SecretStoreStatus;
}
