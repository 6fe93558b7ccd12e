import 'server-only';
import { bus, type HostChange, type HostRow } from '@/server/events/bus';

export function publishHostChange(host: HostRow, inventoryChanged: boolean) {
  const change: HostChange = {
    id: host.id,
    hostname: host.hostname,
    state: host.state,
    stateSince: host.stateSince,
    lastHeartbeatAt: host.lastHeartbeatAt,
    agentVersion: host.agentVersion,
    agentUrl: host.agentUrl,
    inventoryChanged,
  };
  bus.publish('host', change);
}
