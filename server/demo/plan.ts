/**
 * What the demo fleet holds. Arrays are sparse: the demo writes almost nothing to disk.
 * Vendors and models are invented.
 */
export interface DemoPlan {
  /** `reachableFrom`: the only hosts zoned to the array (the others have no path to it); absent: every host. */
  arrays: { name: string; vendor: string; model: string; tier: number; capacityGiB: number; reachableFrom?: string[] }[];
  hosts: { hostname: string; volumes: { diskGroup: string; name: string; sizeMiB: number; array: string }[] }[];
}

const arrays: DemoPlan['arrays'] = [
  { name: 'ARR-01', vendor: 'Kestrel Systems', model: 'KX-9000 all-flash', tier: 1, capacityGiB: 8 },
  { name: 'ARR-02', vendor: 'Northwind Storage', model: 'NS-500 hybrid', tier: 2, capacityGiB: 8 },
  { name: 'ARR-03', vendor: 'Basalt Data', model: 'BD-340', tier: 2, capacityGiB: 6 },
  { name: 'ARR-04', vendor: 'Tidewater', model: 'TW-60 archive', tier: 3, capacityGiB: 4, reachableFrom: ['db-01', 'mail-01'] },
];

const fullHosts: DemoPlan['hosts'] = [
  { hostname: 'db-01', volumes: [{ diskGroup: 'oradg', name: 'vol-data01', sizeMiB: 512, array: 'ARR-03' }, { diskGroup: 'oradg', name: 'vol-redo01', sizeMiB: 128, array: 'ARR-01' }, { diskGroup: 'oradg', name: 'vol-arch01', sizeMiB: 256, array: 'ARR-04' }] },
  { hostname: 'db-02', volumes: [{ diskGroup: 'pgdg', name: 'vol-pgdata', sizeMiB: 384, array: 'ARR-03' }, { diskGroup: 'pgdg', name: 'vol-pgwal', sizeMiB: 128, array: 'ARR-01' }] },
  { hostname: 'app-01', volumes: [{ diskGroup: 'appdg', name: 'vol-app01', sizeMiB: 256, array: 'ARR-02' }, { diskGroup: 'appdg', name: 'vol-logs01', sizeMiB: 64, array: 'ARR-03' }] },
  { hostname: 'app-02', volumes: [{ diskGroup: 'appdg', name: 'vol-app02', sizeMiB: 256, array: 'ARR-02' }, { diskGroup: 'appdg', name: 'vol-logs02', sizeMiB: 64, array: 'ARR-03' }, { diskGroup: 'cachedg', name: 'vol-cache02', sizeMiB: 128, array: 'ARR-01' }] },
  { hostname: 'web-01', volumes: [{ diskGroup: 'webdg', name: 'vol-www01', sizeMiB: 192, array: 'ARR-02' }, { diskGroup: 'webdg', name: 'vol-media01', sizeMiB: 320, array: 'ARR-03' }] },
  { hostname: 'mail-01', volumes: [{ diskGroup: 'maildg', name: 'vol-spool', sizeMiB: 256, array: 'ARR-03' }, { diskGroup: 'maildg', name: 'vol-store', sizeMiB: 448, array: 'ARR-04' }, { diskGroup: 'maildg', name: 'vol-index', sizeMiB: 64, array: 'ARR-02' }, { diskGroup: 'maildg', name: 'vol-queue', sizeMiB: 96, array: 'ARR-01' }] },
];

/** A smaller fleet for end-to-end tests: quicker to build, same shape. */
const smallHosts: DemoPlan['hosts'] = [
  { hostname: 'db-01', volumes: [{ diskGroup: 'oradg', name: 'vol-data01', sizeMiB: 128, array: 'ARR-03' }, { diskGroup: 'oradg', name: 'vol-redo01', sizeMiB: 64, array: 'ARR-01' }] },
  { hostname: 'app-01', volumes: [{ diskGroup: 'appdg', name: 'vol-app01', sizeMiB: 128, array: 'ARR-02' }, { diskGroup: 'appdg', name: 'vol-logs01', sizeMiB: 64, array: 'ARR-03' }] },
];

export function demoPlan(size: 'full' | 'small'): DemoPlan {
  return { arrays, hosts: size === 'small' ? smallHosts : fullHosts };
}
