import { z } from 'zod';
import { text } from './fields.js';

/** POST /api/v1/sessions: an API token exchanged for the dashboard's HttpOnly session cookie. */
export const CreateSession = z.object({ token: text(512, 1) });
export type CreateSession = z.infer<typeof CreateSession>;

export interface Session {
  user: { id: string; name: string; isAdmin: boolean };
  expiresAt: string;
}

// The constants live in a zod-free file so the dashboard bundle can import them without zod.
export { CSRF_HEADER, SESSION_COOKIE } from './session-cookie.js';
