// The one polling loop every suite uses (infrastructure and API alike), so each wait reads as the
// condition it waits for, and each timeout says what was awaited, what last went wrong and what
// the system looked like.
import { sleep } from './processes.js';

export interface WaitOptions {
  timeoutMs?: number;
  /** Pause between checks. */
  intervalMs?: number;
  /** Extra text for the timeout error: logs, an object's status. */
  explain?: () => string | Promise<string>;
  /** Checked before each attempt: a reason to fail at once (e.g. the awaited process exited). */
  abortIf?: () => string | undefined | Promise<string | undefined>;
}

/** Thrown when `abortIf` names a reason: the wait cannot succeed any more. */
export class WaitAborted extends Error {
  override name = 'WaitAborted';
}

/**
 * Calls `check` until it returns a truthy value, and resolves with it. A check that throws counts
 * as "not yet"; its last message is part of the timeout error.
 */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  { timeoutMs = 60_000, intervalMs = 250, explain, abortIf }: WaitOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (;;) {
    const reason = await abortIf?.();
    if (reason !== undefined) throw new WaitAborted(`gave up waiting for ${what}: ${reason}`);
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      lastError = (error as Error).message;
    }
    if (Date.now() > deadline) {
      const more = explain
        ? await Promise.resolve()
            .then(explain)
            .catch((error: Error) => `(could not explain: ${error.message})`)
        : '';
      throw new Error(
        [`timed out after ${timeoutMs} ms waiting for ${what}`, lastError && `last error: ${lastError}`, more]
          .filter(Boolean)
          .join('\n'),
      );
    }
    await sleep(intervalMs);
  }
}
