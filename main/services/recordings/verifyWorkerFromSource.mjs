// Worker entry when running from source (npm start, tests): TypeScript loads through tsx, as in
// bin/witness-desktop.mjs. The Electron bundle runs dist/main/verifyWorker.mjs instead.
import { register } from 'tsx/esm/api';

register();
await import(new URL('./verifyWorker.ts', import.meta.url).href);
