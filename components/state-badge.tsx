import {
  Archive,
  ArrowRightLeft,
  Ban,
  CircleCheck,
  CircleCheckBig,
  CircleDashed,
  CircleDot,
  CircleOff,
  CirclePause,
  CircleX,
  Clock,
  Hourglass,
  Info,
  Loader,
  LogOut,
  OctagonExclamationPoint,
  Plug,
  PlugZap,
  RefreshCw,
  ShieldCheck,
  ShieldOff,
  Trash,
  TriangleExclamationPoint,
  Undo2,
  Unlink,
  Zap,
  type LucideIcon,
} from 'lucide-react';
import type { ReactNode } from 'react';
import { Badge, type BadgeTone } from '@/components/ui/badge';
import { cn } from '@/components/ui/cn';

interface StateLook {
  label: string;
  tone: BadgeTone;
  icon: LucideIcon;
  /** What the state means, for the tooltip. */
  meaning?: string;
}

/** Every badge is icon + word, by object type and state (docs/ui.md §5.9); never colour alone. */
const looks = {
  array: {
    online: { label: 'Online', tone: 'success', icon: CircleCheck, meaning: 'serving its LUNs' },
    degraded: { label: 'Degraded', tone: 'warning', icon: TriangleExclamationPoint, meaning: 'serving, with a fault' },
    evacuating: { label: 'Evacuating', tone: 'progress', icon: LogOut, meaning: 'volumes are moving off this array' },
    evacuated: { label: 'Evacuated', tone: 'neutral', icon: Archive, meaning: 'nothing left on it; safe to decommission' },
    offline: { label: 'Offline', tone: 'danger', icon: CircleOff, meaning: 'nothing can be read from it' },
  },
  host: {
    pending: { label: 'Pending', tone: 'neutral', icon: Hourglass, meaning: 'enrolled, no heartbeat yet' },
    connected: { label: 'Connected', tone: 'success', icon: Plug, meaning: 'the agent sends heartbeats' },
    disconnected: { label: 'Disconnected', tone: 'warning', icon: PlugZap, meaning: 'no recent heartbeat from the agent' },
    fenced: { label: 'Fenced', tone: 'danger', icon: ShieldOff, meaning: "the agent's credential is revoked" },
  },
  plex: {
    active: { label: 'Active', tone: 'success', icon: CircleCheck, meaning: 'in sync and serving reads' },
    syncing: { label: 'Syncing', tone: 'progress', icon: RefreshCw, meaning: 'being brought in sync' },
    stale: { label: 'Stale', tone: 'warning', icon: TriangleExclamationPoint, meaning: 'out of date; not used for reads' },
    detached: { label: 'Detached', tone: 'neutral', icon: Unlink, meaning: 'not part of the volume' },
  },
  lun: {
    online: { label: 'Online', tone: 'success', icon: CircleCheck },
    offline: { label: 'Offline', tone: 'danger', icon: CircleOff },
    deleting: { label: 'Deleting', tone: 'neutral', icon: Trash },
  },
  migration: {
    planned: { label: 'Planned', tone: 'neutral', icon: CircleDashed, meaning: 'created by a plan, not yet admitted' },
    queued: { label: 'Queued', tone: 'neutral', icon: Clock, meaning: 'waiting for a slot' },
    preparing: { label: 'Preparing', tone: 'progress', icon: Loader, meaning: 'creating and mapping the target LUN' },
    syncing: { label: 'Resyncing', tone: 'progress', icon: ArrowRightLeft, meaning: 'mirror resync running' },
    copying: { label: 'Copying', tone: 'progress', icon: ArrowRightLeft, meaning: 'copy running' },
    ready: { label: 'Ready', tone: 'attention', icon: CircleDot, meaning: 'converged; waiting for the switch' },
    'cutting-over': { label: 'Switching', tone: 'progress', icon: Zap, meaning: 'writes briefly paused' },
    verifying: { label: 'Verifying', tone: 'progress', icon: ShieldCheck, meaning: 'comparing checksums' },
    verified: { label: 'Verified · awaiting commit', tone: 'attention', icon: ShieldCheck, meaning: 'verified; the source is kept until commit' },
    committing: { label: 'Committing', tone: 'progress', icon: Loader, meaning: 'releasing the source LUN' },
    completed: { label: 'Completed', tone: 'success', icon: CircleCheckBig, meaning: 'moved and committed' },
    paused: { label: 'Paused', tone: 'warning', icon: CirclePause },
    failed: { label: 'Failed', tone: 'danger', icon: CircleX, meaning: 'the source is intact' },
    cancelled: { label: 'Cancelled', tone: 'neutral', icon: Ban, meaning: 'target removed' },
    'rolled-back': { label: 'Rolled back', tone: 'neutral', icon: Undo2, meaning: 'back on the source' },
  },
  evacuation: {
    planned: { label: 'Planned', tone: 'neutral', icon: CircleDashed },
    running: { label: 'Running', tone: 'progress', icon: LogOut },
    paused: { label: 'Paused', tone: 'warning', icon: CirclePause },
    completed: { label: 'Completed', tone: 'success', icon: CircleCheckBig },
    'completed-with-exclusions': { label: 'Completed with exclusions', tone: 'attention', icon: CircleDot },
    cancelled: { label: 'Cancelled', tone: 'neutral', icon: Ban },
    failed: { label: 'Failed', tone: 'danger', icon: CircleX },
  },
  severity: {
    info: { label: 'Info', tone: 'neutral', icon: Info },
    warning: { label: 'Warning', tone: 'warning', icon: TriangleExclamationPoint },
    error: { label: 'Error', tone: 'danger', icon: CircleX },
    critical: { label: 'Critical', tone: 'critical', icon: OctagonExclamationPoint },
  },
} satisfies Record<string, Record<string, StateLook>>;

export type StateObjectType = keyof typeof looks;

export function stateLook(type: StateObjectType, state: string): StateLook {
  const table: Record<string, StateLook> = looks[type];
  return table[state] ?? { label: state, tone: 'neutral', icon: CircleDashed };
}

export function stateLabel(type: StateObjectType, state: string): string {
  return stateLook(type, state).label;
}

/**
 * A state badge with the test hook of docs/ui.md Appendix D (`data-testid="state-badge"`,
 * `data-state` = the engine's state name). `children` is the optional qualifier
 * ("· 2 min").
 */
export function StateBadge({ type, state, children, className }: { type: StateObjectType; state: string; children?: ReactNode; className?: string }) {
  const look = stateLook(type, state);
  const Icon = look.icon;
  return (
    <Badge data-testid="state-badge" data-state={state} tone={look.tone} title={look.meaning} className={cn(className)}>
      <Icon aria-hidden />
      <span>{look.label}</span>
      {children ? <span className="font-normal opacity-90">· {children}</span> : null}
    </Badge>
  );
}

/** Just the severity icon, coloured, with the word for screen readers (event rows). */
export function SeverityIcon({ severity, className }: { severity: string; className?: string }) {
  const look = stateLook('severity', severity);
  const Icon = look.icon;
  const colour =
    severity === 'warning' ? 'text-amber-600 dark:text-amber-400' : severity === 'error' || severity === 'critical' ? 'text-red-600 dark:text-red-400' : 'text-muted-foreground';
  return (
    <span className={cn('inline-flex items-center', className)} title={look.label}>
      <Icon aria-hidden className={cn('size-4', colour)} />
      <span className="sr-only">{look.label}</span>
    </span>
  );
}
