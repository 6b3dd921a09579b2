// The label-selector and quantity readers in helpers.ts, which the policy, backup and Argo CD
// suites trust to say which pods a NetworkPolicy selects and how much a container asks for. No
// kept npm package does either: @kubernetes/client-node has no selector matcher, and its
// quantityToScalar answers bigints and refuses fractional binary quantities such as 1.5Gi.
import { describe, expect, it } from '@jest/globals';
import { quantity, selects } from './helpers.js';

describe('selects (Kubernetes label selector semantics)', () => {
  const pod = { app: 'python-api', tier: 'backend' };

  it('matches on every matchLabels pair, and an empty selector matches everything', () => {
    expect(selects({ matchLabels: { app: 'python-api' } }, pod)).toBe(true);
    expect(selects({ matchLabels: { app: 'python-api', tier: 'frontend' } }, pod)).toBe(false);
    expect(selects({}, pod)).toBe(true);
  });

  it('reads a plain map as matchLabels (a Service selector)', () => {
    expect(selects({ app: 'python-api' }, pod)).toBe(true);
    expect(selects({ app: 'postgres' }, pod)).toBe(false);
  });

  it('applies In, NotIn, Exists and DoesNotExist', () => {
    const expression = (operator: string, values?: string[]) => ({
      matchExpressions: [{ key: 'tier', operator, ...(values && { values }) }],
    });
    expect(selects(expression('In', ['backend', 'db']), pod)).toBe(true);
    expect(selects(expression('In', ['db']), pod)).toBe(false);
    expect(selects(expression('NotIn', ['backend']), pod)).toBe(false);
    expect(selects(expression('NotIn', ['db']), pod)).toBe(true);
    expect(selects(expression('NotIn', ['backend']), { app: 'x' })).toBe(true);
    expect(selects(expression('Exists'), pod)).toBe(true);
    expect(selects(expression('Exists'), { app: 'x' })).toBe(false);
    expect(selects(expression('DoesNotExist'), pod)).toBe(false);
  });

  it('selects nothing when there is no selector at all', () => {
    expect(selects(undefined, pod)).toBe(false);
  });
});

describe('quantity (cores for CPU, bytes for memory)', () => {
  it.each([
    ['500m', 0.5],
    ['2', 2],
    [3, 3],
    ['0.25', 0.25],
    ['100k', 100_000],
    ['1.5G', 1.5e9],
    ['256Mi', 256 * 1024 ** 2],
    ['1.5Gi', 1.5 * 1024 ** 3],
    ['1Ti', 1024 ** 4],
  ])('reads %p as %p', (text, expected) => {
    expect(quantity(text)).toBeCloseTo(expected, 9);
  });

  it('refuses what it cannot read rather than guessing', () => {
    expect(() => quantity('lots')).toThrow('not a quantity');
    // Valid Kubernetes, but written nowhere here: refused, never misread as 1.
    expect(() => quantity('1e3')).toThrow('1e3');
    expect(() => quantity('1Pi')).toThrow('unknown unit');
  });
});
