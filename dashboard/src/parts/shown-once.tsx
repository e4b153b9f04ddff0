import type { ComponentChildren } from 'preact';

/** A secret (a token, an invite link) shown right after it is made; the page cannot show it again. */
export function ShownOnce({ secret, secretClass, children }: { secret: string; secretClass?: string; children: ComponentChildren }) {
  return (
    <div class="state notice" role="status">
      <p>{children}</p>
      <code class={secretClass ? `secret ${secretClass}` : 'secret'}>{secret}</code>
    </div>
  );
}
