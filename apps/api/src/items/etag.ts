import type { ItemRecord } from './repository.js';

const MAX_TAGS = 16;
/** The largest value of the version (and id) column, a PostgreSQL `integer`. */
const MAX_INT4 = 2_147_483_647;
/** How itemEtag spells a tag: decimal without leading zeros, at most 10 digits. */
const STRONG_ITEM_TAG = /^"([1-9]\d{0,9})\.([1-9]\d{0,9})"$/;

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
    // Weak tags never satisfy If-Match (RFC 9110 §13.1.1 uses strong comparison), and strong
    // comparison is character by character: "07.1" is not the tag "7.1". A version the column
    // cannot hold can match nothing, so it never reaches the query (where it would be an error).
    const match = STRONG_ITEM_TAG.exec(tag);
    const version = Number(match?.[2]);
    if (match?.[1] === String(id) && version <= MAX_INT4) versions.push(version);
  }
  return versions;
}
