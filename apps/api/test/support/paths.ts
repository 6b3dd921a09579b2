import { fileURLToPath } from 'node:url';

/** The repository root, so child processes run the same way whatever Jest's working directory. */
export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
