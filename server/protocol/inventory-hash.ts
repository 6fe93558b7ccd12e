/**
 * The inventory's fingerprint, computed the same way by the agent and the console: an agent whose
 * inventory hashes to what the console holds sends only the hash with its heartbeat.
 */
import { createHash } from 'node:crypto';
import type { Inventory } from './agent-api';

/** Key order and list order fixed, so the same inventory always hashes the same. */
export function hashInventory(inventory: Inventory): string {
  const byName = <T extends { name: string }>(items: T[]) => [...items].sort((a, b) => a.name.localeCompare(b.name));
  const canonical = {
    luns: [...inventory.luns].sort((a, b) => a.lunId.localeCompare(b.lunId)).map((lun) => sortKeys(lun)),
    diskGroups: byName(inventory.diskGroups).map((dg) => ({
      name: dg.name,
      volumes: byName(dg.volumes).map((v) => sortKeys({ ...v, plexes: byName(v.plexes).map((p) => sortKeys(p)) })),
    })),
  };
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex');
}

function sortKeys<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).sort(([a], [b]) => a.localeCompare(b))) as T;
}
