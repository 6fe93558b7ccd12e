'use client';
import { Monitor, Moon, Sun } from 'lucide-react';
import { useTheme } from 'next-themes';
import { useSyncExternalStore } from 'react';
import { cn } from '@/components/ui/cn';

const options = [
  { value: 'light', label: 'Light', icon: Sun },
  { value: 'dark', label: 'Dark', icon: Moon },
  { value: 'system', label: 'System', icon: Monitor },
] as const;

const noop = () => () => {};

/** Light / Dark / System (docs/ui.md §2.8); which one is pressed is known only in the browser. */
export function ThemeToggle() {
  const { theme, setTheme } = useTheme();
  const mounted = useSyncExternalStore(
    noop,
    () => true,
    () => false,
  );
  return (
    <div role="group" aria-label="Theme" className="flex items-center rounded-md border p-0.5">
      {options.map(({ value, label, icon: Icon }) => {
        const pressed = mounted && theme === value;
        return (
          <button
            key={value}
            type="button"
            aria-pressed={pressed}
            aria-label={`${label} theme`}
            title={`${label} theme`}
            onClick={() => setTheme(value)}
            className={cn('flex size-7 items-center justify-center rounded text-muted-foreground hover:text-foreground', pressed && 'bg-muted text-foreground')}
          >
            <Icon aria-hidden className="size-4" />
          </button>
        );
      })}
    </div>
  );
}
