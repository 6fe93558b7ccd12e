import { notFound } from 'next/navigation';

/** Any path the console has no page for renders the 404 inside the shell. */
export default function Missing() {
  notFound();
}
