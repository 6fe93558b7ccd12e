import Link from 'next/link';
import { Cable } from 'lucide-react';
import type { HostDetail } from '@/components/api-types';
import { EmptyState } from '@/components/data/query-states';
import { formatBytes, formatBytesExact } from '@/components/format';
import { IdText } from '@/components/id-text';
import { Card } from '@/components/ui/card';
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from '@/components/ui/table';

/** The LUNs mapped to this host and which plex, if any, uses each. */
export function MappedLuns({ host }: { host: HostDetail }) {
  if (host.mappedLuns.length === 0) {
    return (
      <EmptyState icon={Cable} title="No LUNs are mapped to this host">
        <p>An admin maps LUNs to hosts; Tern maps target LUNs itself when it places a migration here.</p>
      </EmptyState>
    );
  }
  const users = new Map<string, string>();
  for (const group of host.diskGroups) {
    for (const volume of group.volumes) {
      for (const plex of volume.plexes) if (plex.lunId) users.set(plex.lunId, `${group.name} / ${volume.name} / ${plex.name}`);
    }
  }
  return (
    <Card>
      <Table>
        <TableHeader>
          <TableRow className="hover:bg-transparent">
            <TableHead className="pl-4">LUN</TableHead>
            <TableHead>WWN</TableHead>
            <TableHead className="text-right">Size</TableHead>
            <TableHead>Array</TableHead>
            <TableHead className="pr-4">Used by</TableHead>
          </TableRow>
        </TableHeader>
        <TableBody>
          {host.mappedLuns.map((lun) => (
            <TableRow key={lun.lunId}>
              <TableCell className="pl-4 font-medium">{lun.lunName}</TableCell>
              <TableCell>
                <IdText value={lun.wwn} label="WWN" />
              </TableCell>
              <TableCell className="text-right tabular-nums" title={formatBytesExact(lun.sizeBytes)}>
                {formatBytes(lun.sizeBytes)}
              </TableCell>
              <TableCell>
                <Link href={`/arrays/${lun.arrayId}`} className="hover:underline">
                  {lun.arrayName}
                </Link>
              </TableCell>
              <TableCell className="pr-4">{users.get(lun.lunId) ?? <span className="text-muted-foreground">unused</span>}</TableCell>
            </TableRow>
          ))}
        </TableBody>
      </Table>
    </Card>
  );
}
