import type { z } from 'zod';
import type { localGatewayStatusSchema } from '../../ipc/contract.ts';

/** What the UI shows about the embedded local gateway (the contract's shape). */
export type LocalGatewayStatus = z.infer<typeof localGatewayStatusSchema>;
