/** Cookie-authenticated mutations must carry this header (any value): a cross-site page cannot add it. */
export const CSRF_HEADER = 'x-zectre-csrf';
export const SESSION_COOKIE = 'zectre_session';
