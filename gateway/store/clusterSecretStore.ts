/**
 * The cluster's identity (issue #17): named pieces of key material that every gateway replica
 * on one PostgreSQL database shares, each stored once. The store holds them already sealed
 * (gateway/config/clusterIdentity.ts seals and opens them); it knows no crypto.
 */

export interface ClusterSecretRecord {
  /** `tls-ca`, `tls-client-ca`, `ssh-host-key`, `master-key`, `recording-key:000001`, … */
  name: string;
  /** The half anyone may see (a CA certificate, a public key), or null. */
  publicPart: string | null;
  /** The secret half, sealed under the replicas' sealing key. */
  sealed: string;
  /** Epoch ms. */
  createdAt: number;
}

export interface ClusterSecretStore {
  /**
   * Stores `secret` unless a secret of that name exists; returns whether this call stored it.
   * Never replaces: the first writer wins, and every caller then reads back the winner.
   */
  addClusterSecretIfAbsent(secret: ClusterSecretRecord): Promise<boolean>;
  getClusterSecret(name: string): Promise<ClusterSecretRecord | undefined>;
  /** Every secret whose name starts with `prefix`, by name. */
  listClusterSecrets(prefix: string): Promise<ClusterSecretRecord[]>;
}
