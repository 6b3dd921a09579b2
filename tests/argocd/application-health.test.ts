// The health check argocd-cm adds for Application resources (a Lua script Argo CD runs with
// gopher-lua), executed here in a Lua VM (fengari) against Application objects in the states the
// root app's sync waves meet: a wave only moves on when its child Applications report Healthy.
import { describe, expect, it } from '@jest/globals';
import { assessHealth } from './health-check.js';

const assess = (object: unknown) => assessHealth('argoproj.io_Application', object);

describe('the Application health check in argocd-cm', () => {
  it('reports a child Application that has not been reconciled yet as Progressing', async () => {
    expect(await assess({ metadata: { name: 'loki' }, spec: {} })).toEqual({ status: 'Progressing', message: '' });
    expect(await assess({ metadata: { name: 'loki' }, status: { sync: { status: 'OutOfSync' } } })).toEqual({
      status: 'Progressing',
      message: '',
    });
  });

  it("passes the child's own health through, with its message", async () => {
    expect(await assess({ status: { health: { status: 'Healthy' } } })).toEqual({ status: 'Healthy', message: '' });
    expect(
      await assess({
        status: { health: { status: 'Degraded', message: 'Deployment python-api exceeded its progress deadline' } },
      }),
    ).toEqual({
      status: 'Degraded',
      message: 'Deployment python-api exceeded its progress deadline',
    });
    expect((await assess({ status: { health: { status: 'Missing' } } })).status).toBe('Missing');
  });
});
