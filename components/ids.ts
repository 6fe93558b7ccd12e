const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Object ids are UUIDs; anything else in a detail URL is a 404 without asking the server. */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}
