import { cva, type VariantProps } from 'class-variance-authority';
import { CircleX, Info, TriangleExclamationPoint, type LucideIcon } from 'lucide-react';
import type { ComponentProps, ReactNode } from 'react';
import { cn } from './cn';

const alertVariants = cva('flex gap-3 rounded-lg border px-4 py-3 text-sm [&>svg]:mt-0.5 [&>svg]:size-4 [&>svg]:shrink-0', {
  variants: {
    tone: {
      info: 'bg-card text-card-foreground',
      warning: 'border-amber-300 bg-amber-50 text-amber-900 dark:border-amber-800 dark:bg-amber-950/60 dark:text-amber-100',
      danger: 'border-red-300 bg-red-50 text-red-900 dark:border-red-900 dark:bg-red-950/60 dark:text-red-100',
    },
  },
  defaultVariants: { tone: 'info' },
});

const icons: Record<'info' | 'warning' | 'danger', LucideIcon> = { info: Info, warning: TriangleExclamationPoint, danger: CircleX };

type AlertProps = Omit<ComponentProps<'div'>, 'title'> &
  VariantProps<typeof alertVariants> & { title?: ReactNode; actions?: ReactNode };

/** An inline alert: a condition on the object in view that lasts while it holds (docs/ui.md §2.5). */
export function Alert({ className, tone, title, actions, children, ...props }: AlertProps) {
  const Icon = icons[tone ?? 'info'];
  return (
    <div className={cn(alertVariants({ tone }), className)} {...props}>
      <Icon aria-hidden />
      <div className="min-w-0 flex-1 space-y-1">
        {title ? <p className="font-medium">{title}</p> : null}
        {children ? <div className="[&_p]:leading-relaxed">{children}</div> : null}
      </div>
      {actions ? <div className="flex shrink-0 items-start gap-2">{actions}</div> : null}
    </div>
  );
}
