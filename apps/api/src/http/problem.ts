import { STATUS_CODES } from 'node:http';
import type { Request, Response } from 'express';
import { z } from './zod.js';

const fieldError = z.object({
  location: z.enum(['body', 'query', 'path', 'header']),
  field: z.string(),
  message: z.string(),
});

/** One invalid input, named by where it came from and which field. */
export type FieldError = z.infer<typeof fieldError>;

export interface Problem {
  status: number;
  /** A URI naming the problem type; `about:blank` when the status code says it all. */
  type?: string;
  title?: string;
  detail: string;
  errors?: FieldError[];
  headers?: Record<string, string>;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** The body sendProblem writes, as the OpenAPI document describes it. */
export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string(),
    requestId: z.string(),
    errors: z.array(fieldError).optional(),
  })
  .openapi('Problem');

/** A documented response whose body is a problem. */
export const problemResponse = (description: string) => ({
  description,
  content: { [PROBLEM_CONTENT_TYPE]: { schema: problemSchema } },
});

/** Problem types with more meaning than their status code. */
export const ProblemType = {
  validation: 'urn:python-api:problem:validation-error',
  preconditionFailed: 'urn:python-api:problem:precondition-failed',
  databaseUnavailable: 'urn:python-api:problem:database-unavailable',
} as const;

/** Thrown by handlers; the error middleware renders it as RFC 9457 problem+json. */
export class HttpProblem extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail);
    this.name = 'HttpProblem';
  }
}

export function sendProblem(req: Request, res: Response, problem: Problem): void {
  for (const [name, value] of Object.entries(problem.headers ?? {})) res.setHeader(name, value);
  res
    .status(problem.status)
    .type(PROBLEM_CONTENT_TYPE)
    .json({
      type: problem.type ?? 'about:blank',
      title: problem.title ?? STATUS_CODES[problem.status] ?? 'Error',
      status: problem.status,
      detail: problem.detail,
      instance: req.originalUrl,
      requestId: req.id,
      ...(problem.errors ? { errors: problem.errors } : {}),
    });
}
