import type { SessionUser } from '@/server/auth/sessions';
import type { Actor } from '@/server/events/log';

export const userActor = (user: SessionUser): Actor => ({ kind: 'user', id: user.id, name: user.username });
