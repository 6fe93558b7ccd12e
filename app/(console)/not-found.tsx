import { NotFoundPanel } from '@/components/not-found-panel';

export default function NotFound() {
  return <NotFoundPanel title="Page not found" message="There is no page at this address. It may have moved, or the link may be mistyped." />;
}
