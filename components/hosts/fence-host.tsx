'use client';
/**
 * "Fence host…" on the host detail header (docs/ui.md §3.6, P6): admin only, typed with the hostname.
 * Other roles see the button with the reason it cannot act (P5). A refusal from the server is
 * shown as it came.
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useId, useState } from 'react';
import type { HostDetail } from '@/components/api-types';
import { Button } from '@/components/ui/button';
import { ConfirmDialog } from '@/components/ui/confirm-dialog';
import { useTRPC } from '@/components/trpc';

export function FenceHostAction({ host }: { host: HostDetail }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const reasonId = useId();
  const me = useQuery(trpc.auth.me.queryOptions());
  const [open, setOpen] = useState(false);
  const [notice, setNotice] = useState<{ tone: 'ok' | 'error'; text: string } | null>(null);
  const fence = useMutation(
    trpc.hosts.fence.mutationOptions({
      onSuccess: (result) => {
        void queryClient.invalidateQueries(trpc.hosts.get.queryFilter({ id: host.id }));
        void queryClient.invalidateQueries(trpc.hosts.list.queryFilter());
        const count = result.migrationIds.length;
        setNotice({ tone: 'ok', text: `Fenced. ${count === 0 ? 'No migration was running on it.' : `${count} unfinished migration${count === 1 ? ' is' : 's are'} left where ${count === 1 ? 'it is' : 'they are'}.`}` });
      },
      onError: (error) => setNotice({ tone: 'error', text: error.message }),
    }),
  );
  if (host.state === 'fenced') return null;
  const reason = me.data?.role === 'admin' ? undefined : 'Requires admin role';

  return (
    <div className="flex flex-col items-end gap-1">
      <span title={reason} className="inline-flex">
        <Button
          size="sm"
          variant="outline"
          className="border-red-300 text-red-700 dark:border-red-800 dark:text-red-400"
          aria-disabled={reason ? true : undefined}
          aria-describedby={reason ? reasonId : undefined}
          onClick={() => {
            if (reason || fence.isPending) return;
            setNotice(null);
            setOpen(true);
          }}
        >
          Fence host…
        </Button>
        {reason ? (
          <span id={reasonId} className="sr-only">
            {reason}
          </span>
        ) : null}
      </span>
      <ConfirmDialog
        open={open}
        title={`Fence ${host.hostname}?`}
        confirm="Fence host"
        keep="Keep trusting it"
        typed={host.hostname}
        typedLabel="Type the hostname to confirm"
        onConfirm={async (typedText) => {
          await fence.mutateAsync({ id: host.id, confirm: typedText }).catch(() => undefined);
        }}
        onClose={() => setOpen(false)}
      >
        <p>Type the hostname to revoke this agent&apos;s credential. The console refuses its heartbeats and the engine stops driving its migrations.</p>
        <p>Running migrations on this host will stop making progress in the console; the agent may keep their jobs running with the source authoritative. To bring the host back, enrol its agent again with a new token.</p>
      </ConfirmDialog>
      <div aria-live="polite" className="text-right text-sm">
        {notice ? <span className={notice.tone === 'error' ? 'text-red-700 dark:text-red-400' : 'text-muted-foreground'}>{notice.text}</span> : null}
      </div>
    </div>
  );
}
