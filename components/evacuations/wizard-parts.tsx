'use client';
/**
 * Small pieces the evacuate wizard's steps share (docs/ui.md §3.10, §6.5): a fieldset section, radio
 * rows, a labelled number field with its unit and error, the error summary that links to the
 * fields, and figure cards.
 */
import type { ReactNode } from 'react';
import { Input, Label } from '@/components/ui/input';
import { cn } from '@/components/ui/cn';
import type { FieldError } from './draft';

export function Section({ title, description, children, className }: { title: string; description?: ReactNode; children: ReactNode; className?: string }) {
  return (
    <fieldset className={cn('space-y-2', className)}>
      <legend className="mb-1 text-sm font-semibold">{title}</legend>
      {description ? <p className="text-xs text-muted-foreground">{description}</p> : null}
      {children}
    </fieldset>
  );
}

export function Radio({ name, value, checked, onChange, label, children, disabled }: { name: string; value: string; checked: boolean; onChange: () => void; label: ReactNode; children?: ReactNode; disabled?: boolean }) {
  return (
    <div className="text-sm">
      <label className={cn('flex items-start gap-2', disabled ? 'cursor-not-allowed text-muted-foreground' : 'cursor-pointer')}>
        <input type="radio" name={name} value={value} checked={checked} onChange={onChange} disabled={disabled} className="mt-1" />
        <span>{label}</span>
      </label>
      {children ? <div className="pl-5 text-xs text-muted-foreground">{children}</div> : null}
    </div>
  );
}

export function NumberField({
  id,
  label,
  unit,
  value,
  placeholder,
  onChange,
  error,
  className,
}: {
  id: string;
  label: string;
  unit?: string;
  value: string;
  placeholder?: string;
  onChange: (value: string) => void;
  error?: string;
  className?: string;
}) {
  return (
    <div className={cn('space-y-1', className)}>
      <Label htmlFor={id} className="text-xs">
        {label}
        {unit ? ` (${unit})` : ''}
      </Label>
      <div className="flex items-center gap-1">
        <Input
          id={id}
          inputMode="numeric"
          className="h-8 w-24"
          value={value}
          placeholder={placeholder}
          onChange={(event) => onChange(event.target.value)}
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? `${id}-error` : undefined}
        />
        {value !== '' ? (
          <button type="button" className="text-xs text-muted-foreground underline-offset-2 hover:underline" onClick={() => onChange('')} title={placeholder ? `Back to the Settings default, ${placeholder}` : 'Back to the default'}>
            reset
          </button>
        ) : null}
      </div>
      {error ? (
        <p id={`${id}-error`} className="text-xs text-red-700 dark:text-red-400">
          {error}
        </p>
      ) : null}
    </div>
  );
}

/** "Fix these to continue", each a link to its field (docs/ui.md §3.10: errors summarised at the top). */
export function ErrorSummary({ errors }: { errors: readonly FieldError[] }) {
  if (errors.length === 0) return null;
  return (
    <div role="alert" className="rounded-lg border border-red-300 bg-red-50 px-4 py-3 text-sm text-red-900 dark:border-red-900 dark:bg-red-950/60 dark:text-red-100">
      <p className="font-medium">Fix {errors.length === 1 ? 'this' : `these ${errors.length}`} to continue:</p>
      <ul className="mt-1 list-disc pl-5">
        {errors.map((e) => (
          <li key={`${e.field}-${e.message}`}>
            <a
              href={`#${e.field}`}
              className="underline"
              onClick={(event) => {
                const target = document.getElementById(e.field);
                if (target) {
                  event.preventDefault();
                  target.focus();
                }
              }}
            >
              {e.message}
            </a>
          </li>
        ))}
      </ul>
    </div>
  );
}

export function FigureCard({ label, value, detail, testId }: { label: string; value: ReactNode; detail?: ReactNode; testId?: string }) {
  return (
    <div className="rounded-lg border bg-card px-3 py-2" data-testid={testId}>
      <p className="text-xs text-muted-foreground">{label}</p>
      <p className="text-base font-semibold whitespace-nowrap tabular-nums">{value}</p>
      {detail ? <p className="text-xs text-muted-foreground">{detail}</p> : null}
    </div>
  );
}

export function errorFor(errors: readonly FieldError[], field: string): string | undefined {
  return errors.find((e) => e.field === field)?.message;
}
