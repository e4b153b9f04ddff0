import { z } from 'zod';

/** POST /api/v1/sessions: an API token exchanged for the dashboard's HttpOnly session cookie. */
export const CreateSession = z.object({ token: z.string().min(1).max(512) });
export type CreateSession = z.infer<typeof CreateSession>;

export interface Session {
  user: { id: string; name: string; isAdmin: boolean };
  expiresAt: string;
}

/** Cookie-authenticated mutations must carry this header (any value): a cross-site page cannot add it. */
export const CSRF_HEADER = 'x-zectre-csrf';
export const SESSION_COOKIE = 'zectre_session';
