import type { Role } from '@/components/api-types';
import { Badge } from '@/components/ui/badge';

const labels: Record<Role, string> = { viewer: 'Viewer', operator: 'Operator', admin: 'Admin' };

export function RoleBadge({ role }: { role: Role }) {
  return (
    <Badge tone="outline" className="shrink-0" title={`Role: ${labels[role]}`}>
      {labels[role]}
    </Badge>
  );
}

export function roleLabel(role: Role): string {
  return labels[role];
}
