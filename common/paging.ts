/** Page sizes of the listings, shared by the server, its OpenAPI document, the CLI and the web inbox (constants.js, server/inbox-assets.ts). Imports nothing: the CLI's help loads it. */

/** The most rows one page of a listing returns (?limit=, `review list --limit`). */
export const MAX_PAGE_SIZE = 500;
/** A reviewer's queue page: a screenful and more, at tens of milliseconds through PostgreSQL visibility at 10,000 waiting (bench/README.md). */
export const DEFAULT_PAGE_SIZE = 100;
