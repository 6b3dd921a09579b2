import { extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';

extendZodWithOpenApi(z);

/** PostgreSQL `integer` upper bound: ids beyond it cannot exist. */
export const MAX_ID = 2_147_483_647;
export const MAX_PAGE_SIZE = 1000;
export const DEFAULT_PAGE_SIZE = 100;

/** A decimal integer in a path or query string: `pattern` bounds its digits, `min`/`max` its value. */
const integerString = (pattern: RegExp, min: number, max: number, message: string) =>
  z
    .string()
    .regex(pattern, message)
    .transform(Number)
    .refine((n) => n >= min && n <= max, message);

const positiveId = integerString(/^[1-9][0-9]{0,9}$/, 1, MAX_ID, `must be a positive integer up to ${MAX_ID}`);

export const itemIdParams = z
  .object({ id: positiveId.openapi({ type: 'integer', minimum: 1, maximum: MAX_ID, example: 42 }) })
  .strict();

export const listItemsQuery = z
  .object({
    limit: integerString(/^[0-9]{1,4}$/, 1, MAX_PAGE_SIZE, `must be an integer from 1 to ${MAX_PAGE_SIZE}`)
      .optional()
      .openapi({ type: 'integer', minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE }),
    after: integerString(/^[0-9]{1,10}$/, 0, MAX_ID, `must be an item id (0 to ${MAX_ID})`)
      .optional()
      .openapi({
        type: 'integer',
        minimum: 0,
        maximum: MAX_ID,
        description: 'Return items whose id is greater than this one (keyset pagination).',
      }),
  })
  .strict();

// PostgreSQL text cannot store U+0000: without this check such input would fail as a 500.
const hasNoNul = (text: string) => !text.includes('\u0000');
const NUL_MESSAGE = 'must not contain the NUL character (U+0000)';

/** Body of POST and PUT: the whole writable state of an item. Unknown fields are rejected. */
export const itemInput = z
  .object({
    name: z
      .string()
      .trim()
      .min(1, 'must not be empty')
      .max(200, 'must be at most 200 characters')
      .refine(hasNoNul, NUL_MESSAGE)
      .openapi({ example: 'Coffee grinder', description: '1–200 characters after trimming' }),
    description: z
      .string()
      .max(2000, 'must be at most 2000 characters')
      .refine(hasNoNul, NUL_MESSAGE)
      .nullable()
      .optional()
      .openapi({ example: 'Burr grinder, 40 settings', description: 'Up to 2000 characters' }),
  })
  .strict()
  .openapi('ItemInput');

export type ItemInput = z.infer<typeof itemInput>;

export const item = z
  .object({
    id: z.number().int().min(1).max(MAX_ID),
    name: z.string(),
    description: z.string().nullable(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .openapi('Item');

export const problem = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string(),
    requestId: z.string(),
    errors: z
      .array(
        z.object({
          location: z.enum(['body', 'query', 'path', 'header']),
          field: z.string(),
          message: z.string(),
        }),
      )
      .optional(),
  })
  .openapi('Problem');

export const healthReport = z
  .object({
    status: z.enum(['pass', 'fail']),
    version: z.string(),
    uptimeSeconds: z.number(),
    checks: z.object({
      database: z.object({
        status: z.enum(['pass', 'fail']),
        latencyMs: z.number().optional(),
        output: z.string().optional(),
      }),
    }),
  })
  .openapi('Health');
