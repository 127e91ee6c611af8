/**
 * Wire schemas of machine identities (issue #18): what an admin binds a CI job's identity to,
 * and what a job gets for its workload token (an access token for minutes, nothing more).
 */
import { z } from 'zod';
import { userSchema } from './apiSchemas.ts';
import { issuerUrlSchema } from './oidcSchemas.ts';

const isoTime = z.iso.datetime({ offset: true });
const nameSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'names are lower-case letters, digits, . _ -');

export const machineIdentitySchema = z.object({
  id: z.string(),
  name: nameSchema,
  userId: z.string(),
  issuer: z.string(),
  audience: z.string(),
  claims: z.record(z.string(), z.string()),
  createdAt: isoTime,
});
export type MachineIdentity = z.infer<typeof machineIdentitySchema>;
export const machineIdentityListSchema = z.object({ identities: z.array(machineIdentitySchema) });

export const createMachineIdentityRequestSchema = z.strictObject({
  /** Also its Witness user's name: grants name it, recordings show it. */
  name: nameSchema,
  issuer: issuerUrlSchema,
  audience: z.string().min(1).max(512),
  /** Each must be present in the token with exactly this value (e.g. repository, ref). */
  claims: z
    .record(z.string().min(1).max(128), z.string().min(1).max(512))
    .refine((claims) => Object.keys(claims).length > 0, {
      message:
        'bind at least one claim (repository, for instance), or any job of the issuer matches',
    }),
  groups: z.array(nameSchema).max(64).default([]),
});

export const machineIdentityParams = z.strictObject({ name: nameSchema });

export const idTokenExchangeRequestSchema = z.strictObject({
  idToken: z.string().min(10).max(16_384),
});

/** A machine's sign-in: an access token only (no refresh token: nothing long-lived). */
export const machineSignInSchema = z.object({
  accessToken: z.string(),
  accessExpiresAt: isoTime,
  user: userSchema,
  machine: z.object({ name: z.string(), claims: z.record(z.string(), z.unknown()) }),
});
export type MachineSignInAnswer = z.infer<typeof machineSignInSchema>;
