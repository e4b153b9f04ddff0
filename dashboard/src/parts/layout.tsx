import type { ComponentChildren } from 'preact';
import { followLink } from '../router.js';

interface Props {
  user: { name: string };
  path: string;
  onSignOut(): void;
  children: ComponentChildren;
}

export function Layout({ user, path, onSignOut, children }: Props) {
  const nav = (href: string, label: string, active: boolean) => (
    <a href={href} onClick={followLink} class={active ? 'active' : ''}>
      {label}
    </a>
  );
  return (
    <>
      <header class="top">
        <a href="/" onClick={followLink} class="brand">
          Zectre
        </a>
        <nav>
          {nav('/', 'Projects', path === '/' || path.startsWith('/projects/'))}
          {nav('/nodes', 'Nodes', path === '/nodes')}
          {nav('/tokens', 'Tokens', path === '/tokens')}
          {nav('/account', 'Account', path === '/account')}
        </nav>
        <span class="who">
          <span class="muted">{user.name}</span>
          <button type="button" class="link" onClick={onSignOut}>
            Sign out
          </button>
        </span>
      </header>
      <main>{children}</main>
    </>
  );
}
