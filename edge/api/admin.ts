import type { User } from '../auth.js';
import { HttpError } from '../http.js';

/** Nodes and join tokens serve every project, so only an admin's global token operates them. */
export function requireAdmin(user: User, what: string): void {
  if (!user.isAdmin || user.tokenProjectId) {
    throw new HttpError(403, 'forbidden', `${what} needs an admin user's global token`);
  }
}
