import { extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';

// Schemas that feed the OpenAPI document import `z` from here, so `.openapi()` exists before
// any of them is built, whatever order the modules load in.
extendZodWithOpenApi(z);

export { z };
