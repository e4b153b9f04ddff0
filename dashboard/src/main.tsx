import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { Session } from '../../protocol/dashboard.js';
import { api, errorText, onSignedOut } from './api.js';
import { Layout } from './parts/layout.js';
import { ErrorBox, Loading } from './parts/states.js';
import { Nodes } from './pages/nodes.js';
import { Project } from './pages/project.js';
import { Projects } from './pages/projects.js';
import { SignIn } from './pages/sign-in.js';
import { Tokens } from './pages/tokens.js';
import { navigate, usePath } from './router.js';
import './style.css';

type User = Session['user'];

function App() {
  // undefined: still asking; null: signed out.
  const [user, setUser] = useState<User | null>();
  const [error, setError] = useState<string>();
  const path = usePath();
  useEffect(() => {
    api<{ user: User }>('/whoami')
      .then((r) => setUser(r.user))
      .catch((err) => (err.status === 401 ? setUser(null) : setError(errorText(err))));
    return onSignedOut(() => setUser(null));
  }, []);
  if (error) return <ErrorBox error={error} context="Could not reach Zectre" />;
  if (user === undefined) return <Loading what="Zectre" />;
  if (user === null) return <SignIn onSignedIn={(s) => setUser(s.user)} />;
  const signOut = async () => {
    await api('/sessions/current', { method: 'DELETE' }).catch(() => undefined);
    setUser(null);
    navigate('/');
  };
  const project = /^\/projects\/([a-z0-9-]+)\/?$/.exec(path);
  return (
    <Layout user={user} path={path} onSignOut={signOut}>
      {path === '/' ? (
        <Projects />
      ) : project ? (
        <Project key={project[1]} name={project[1]!} />
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
