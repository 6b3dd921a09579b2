import { z } from '../http/zod.js';

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

/**
 * Length in characters as PostgreSQL's varchar(n) and JSON Schema's maxLength count them: code
 * points (String#length counts UTF-16 units, so an emoji would count twice).
 */
const codePoints = (text: string) => [...text].length;
const atMost = (max: number) =>
  [(text: string) => codePoints(text) <= max, `must be at most ${max} characters`] as const;

const NAME_MAX = 200;
const DESCRIPTION_MAX = 2000;

/**
 * The name rule as a JSON Schema pattern, for the document: optional surrounding whitespace
 * (what trim() removes is exactly ECMAScript's \s), then 1–200 characters that start and end
 * with a non-whitespace one, no NUL anywhere.
 */
const NAME_PATTERN = `^\\s*[^\\s\\u0000](?:[^\\u0000]{0,${NAME_MAX - 2}}[^\\s\\u0000])?\\s*$`;
const NO_NUL_PATTERN = '^[^\\u0000]*$';

/** Body of POST and PUT: the whole writable state of an item. Unknown fields are rejected. */
export const itemInput = z
  .object({
    name: z
      .string()
      .trim()
      .min(1, 'must not be empty')
      .refine(...atMost(NAME_MAX))
      .refine(hasNoNul, NUL_MESSAGE)
      .openapi({
        example: 'Coffee grinder',
        pattern: NAME_PATTERN,
        description: `Leading and trailing whitespace is removed; what remains must be 1–${NAME_MAX} characters (code points) without U+0000.`,
      }),
    description: z
      .string()
      .refine(...atMost(DESCRIPTION_MAX))
      .refine(hasNoNul, NUL_MESSAGE)
      .nullable()
      .optional()
      .openapi({
        example: 'Burr grinder, 40 settings',
        maxLength: DESCRIPTION_MAX,
        pattern: NO_NUL_PATTERN,
        description: `Up to ${DESCRIPTION_MAX} characters (code points), without U+0000; stored as sent.`,
      }),
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
