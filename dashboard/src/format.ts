export function age(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '—';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86_400)}d ago`;
}

/** sha256:abcdef… -> abcdef123456 (enough to tell artifacts apart; the full digest is in the title). */
export const shortDigest = (digest: string) => digest.replace(/^sha256:/, '').slice(0, 12);
