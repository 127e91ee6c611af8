/**
 * Machine identities (issue #18): a CI job's workload token, bound by issuer, audience and
 * required claims to a Witness user that grants name like a person. The `jti` of every token
 * exchanged is kept until the token expires, so each works once; and the claims of the token
 * behind each sign-in are kept, so the sessions it opens can carry them.
 */

export interface MachineIdentityRecord {
  id: string;
  /** Also the username of its Witness user (grants, sessions and recordings name it). */
  name: string;
  userId: string;
  issuer: string;
  audience: string;
  /** Claims the token must carry with exactly these values (repository, ref, workflow, …). */
  claims: Record<string, string>;
  createdAt: number;
}

/** A machine's sign-in: the identity and the claims of the token it exchanged. */
export interface MachineSignInRecord {
  familyId: string;
  identityId: string;
  claims: Record<string, unknown>;
  createdAt: number;
}

export interface MachineIdentityStore {
  createMachineIdentity(identity: MachineIdentityRecord): Promise<void>;
  listMachineIdentities(): Promise<MachineIdentityRecord[]>;
  getMachineIdentityByName(name: string): Promise<MachineIdentityRecord | undefined>;
  deleteMachineIdentity(id: string): Promise<boolean>;
  /**
   * Records a token's `jti` for its issuer until `expiresAt`; false when it was recorded before
   * (a replay). Atomic across replicas (primary key).
   */
  spendMachineToken(issuer: string, jti: string, expiresAt: number): Promise<boolean>;
  insertMachineSignIn(signIn: MachineSignInRecord): Promise<void>;
  getMachineSignIn(familyId: string): Promise<MachineSignInRecord | undefined>;
}
