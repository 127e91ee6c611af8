// The search-text worker's entry when the gateway runs from TypeScript source (tsx, vitest):
// registers tsx's loader, as bin/witness-gateway.mjs does, then loads the worker module. A file,
// not eval'd code, so `tsx/esm/api` resolves from the checkout whatever the process's cwd.
import { register } from 'tsx/esm/api';

register();
await import(new URL('./recordingTextWorker.ts', import.meta.url).href);
