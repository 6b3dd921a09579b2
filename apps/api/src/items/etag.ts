import type { ItemRecord } from './repository.js';

const MAX_TAGS = 16;

/** Strong ETag from the row's version, bumped by every write. */
export function itemEtag(item: Pick<ItemRecord, 'id' | 'version'>): string {
  return `"${item.id}.${item.version}"`;
}

/**
 * Reads an If-Match header for one item: undefined when absent or `*` ("any current version":
 * an unconditional write), [] when nothing in it can match, or the versions it names.
 */
export function versionsFromIfMatch(header: string | undefined, id: number): number[] | undefined {
  if (header === undefined) return undefined;
  const versions: number[] = [];
  // A client has no reason to send many tags; the cap bounds the distinct SQL shapes (IN lists).
  for (const tag of header.split(',', MAX_TAGS).map((t) => t.trim())) {
    if (tag === '*') return undefined;
    // Weak tags never satisfy If-Match (RFC 9110 §13.1.1 uses strong comparison).
    const match = /^"(\d+)\.(\d+)"$/.exec(tag);
    if (match && Number(match[1]) === id) versions.push(Number(match[2]));
  }
  return versions;
}
