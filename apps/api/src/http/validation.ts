import type { z } from 'zod';
import { HttpProblem, ProblemType, type FieldError } from './problem.js';

/** Parses request input with a zod schema; a failure becomes a 400 naming every bad field. */
export function parseInput<S extends z.ZodType>(
  schema: S,
  input: unknown,
  location: FieldError['location'],
): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const errors: FieldError[] = result.error.issues.flatMap((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ location, field: key, message: 'is not a known field' }));
    }
    const field = issue.path.map(String).join('.');
    return [{ location, field, message: field === '' ? `expected ${describeRoot(issue)}` : issue.message }];
  });
  throw new HttpProblem({
    status: 400,
    type: ProblemType.validation,
    title: 'Invalid request',
    detail: `The request ${location} is invalid: ${errors.map((e) => (e.field ? `${e.field} ${e.message}` : e.message)).join('; ')}`,
    errors,
  });
}

function describeRoot(issue: z.core.$ZodIssue): string {
  return issue.code === 'invalid_type' ? `a JSON ${issue.expected}` : issue.message;
}
