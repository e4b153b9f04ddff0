import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { Session } from '../../protocol/dashboard.js';
import type { Enrolled } from '../../protocol/passkeys.js';
import { api, errorText, onSignedOut } from './api.js';
import { Layout } from './parts/layout.js';
import { RecoveryCodes } from './parts/recovery-codes.js';
import { ErrorBox, Loading } from './parts/states.js';
import { Account } from './pages/account.js';
import { Device } from './pages/device.js';
import { InviteAccept, InviteNewPerson } from './pages/invite.js';
import { Members } from './pages/members.js';
import { Nodes } from './pages/nodes.js';
import { Project } from './pages/project.js';
import { Projects } from './pages/projects.js';
import { Recover } from './pages/recover.js';
import { Setup } from './pages/setup.js';
import { SignIn } from './pages/sign-in.js';
import { Tokens } from './pages/tokens.js';
import { navigate, usePath } from './router.js';
import './style.css';

type User = Session['user'];

function App() {
  // undefined: still asking; null: signed out.
  const [user, setUser] = useState<User | null>();
  const [error, setError] = useState<string>();
  /** Recovery codes just made: shown once, before anything else. */
  const [codes, setCodes] = useState<string[]>();
  /** On an invite link, signed out: the person chose to sign in with an existing account. */
  const [signInFirst, setSignInFirst] = useState(false);
  const path = usePath();
  useEffect(() => {
    api<{ user: User }>('/whoami')
      .then((r) => setUser(r.user))
      .catch((err) => (err.status === 401 ? setUser(null) : setError(errorText(err))));
    return onSignedOut(() => setUser(null));
  }, []);
  const enrolled = (e: Enrolled, then: string) => {
    setUser(e.session.user);
    if (e.recoveryCodes) setCodes(e.recoveryCodes);
    navigate(then);
  };
  if (codes) return <RecoveryCodes codes={codes} onDone={() => setCodes(undefined)} />;
  if (error) return <ErrorBox error={error} context="Could not reach Zectre" />;
  if (user === undefined) return <Loading what="Zectre" />;
  const invite = /^\/invite\/([^/]+)$/.exec(path);
  if (user === null) {
    if (path === '/setup') return <Setup onEnrolled={(e) => enrolled(e, '/')} />;
    if (path === '/recover') {
      return (
        <Recover
          onSignedIn={(s) => {
            setUser(s.user);
            navigate('/account'); // the passkey was lost: adding a new one is the next step
          }}
        />
      );
    }
    if (invite && !signInFirst) {
      return (
        <InviteNewPerson
          token={decodeURIComponent(invite[1]!)}
          onEnrolled={(e) => enrolled(e, e.invite ? `/projects/${e.invite.project}` : '/')}
          onSignIn={() => setSignInFirst(true)}
        />
      );
    }
    // Any other page (a project, /device?user_code=…) comes back after the sign-in: the path is kept.
    const purpose = path.startsWith('/device') ? 'Sign in to approve the device that is asking.' : invite ? 'Sign in to accept the invite.' : undefined;
    return <SignIn purpose={purpose} onSignedIn={(s) => setUser(s.user)} />;
  }
  const signOut = async () => {
    await api('/sessions/current', { method: 'DELETE' }).catch(() => undefined);
    setUser(null);
    setSignInFirst(false);
    navigate('/');
  };
  const project = /^\/projects\/([a-z0-9-]+)\/?$/.exec(path);
  const members = /^\/projects\/([a-z0-9-]+)\/members\/?$/.exec(path);
  return (
    <Layout user={user} path={path} onSignOut={signOut}>
      {path === '/' || path === '/setup' || path === '/recover' ? (
        <Projects />
      ) : project ? (
        <Project key={project[1]} name={project[1]!} />
      ) : members ? (
        <Members key={members[1]} project={members[1]!} me={user} />
      ) : invite ? (
        <InviteAccept token={decodeURIComponent(invite[1]!)} />
      ) : path === '/device' ? (
        <Device />
      ) : path === '/account' ? (
        <Account onCodes={setCodes} />
      ) : path === '/nodes' ? (
        <Nodes />
      ) : path === '/tokens' ? (
        <Tokens />
      ) : (
        <p class="state empty">Nothing at {path}.</p>
      )}
    </Layout>
  );
}

render(<App />, document.getElementById('app')!);
