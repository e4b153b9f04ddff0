import { useEffect, useState } from 'preact/hooks';
import { api, errorText } from '../api.js';
import { ErrorBox, Loading } from '../parts/states.js';

/** GET /api/v1/device?user_code=… (h-oauth's device approval API). */
interface DeviceRequest {
  userCode: string;
  /** What the device says it is: claimed, not proven. */
  clientName: string | null;
  requestedAt: string;
  expiresAt: string;
  status: string;
}

/**
 * /device: a CLI (zectre login) is asking to act as the signed-in user. The page shows the code the
 * CLI printed and what is asking, so the person can compare before approving.
 */
export function Device() {
  const [code, setCode] = useState(() => new URLSearchParams(location.search).get('user_code') ?? '');
  const [typed, setTyped] = useState('');
  const [request, setRequest] = useState<DeviceRequest>();
  const [done, setDone] = useState<string>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    if (!code) return;
    setError(undefined);
    api<DeviceRequest>(`/device?user_code=${encodeURIComponent(code)}`).then(setRequest, (err) => setError(errorText(err)));
  }, [code]);
  const decide = async (decision: 'approve' | 'deny') => {
    setError(undefined);
    try {
      await api(`/device/${decision}`, { method: 'POST', body: { userCode: request!.userCode } });
      setDone(decision === 'approve' ? `Approved: ${request!.clientName ?? 'the device'} is signed in as you. You can close this page.` : 'Denied: the request was refused.');
    } catch (err) {
      setError(errorText(err));
    }
  };
  if (!code) {
    return (
      <section>
        <h1>Approve a device</h1>
        <form
          class="inline"
          onSubmit={(e) => {
            e.preventDefault();
            setCode(typed.trim().toUpperCase());
          }}
        >
          <input aria-label="code" placeholder="XXXX-XXXX" value={typed} onInput={(e) => setTyped(e.currentTarget.value)} required />
          <button type="submit">Continue</button>
        </form>
      </section>
    );
  }
  return (
    <section>
      <h1>Approve a device</h1>
      <ErrorBox error={error} />
      {!request && !error && <Loading what="the request" />}
      {done && (
        <p class="state notice" role="status">
          {done}
        </p>
      )}
      {request && !done && (
        <div class="card">
          <p>
            <b class="device-client">{request.clientName ?? 'A device that did not say its name'}</b> asks to sign in as you. Check that it shows this code:
          </p>
          <p class="user-code">
            <code>{request.userCode}</code>
          </p>
          <p class="muted small">
            Requested {new Date(request.requestedAt).toLocaleString()}; expires {new Date(request.expiresAt).toLocaleString()}. Status: {request.status}.
          </p>
          {request.status === 'pending' ? (
            <div class="inline">
              <button type="button" onClick={() => void decide('approve')}>
                Approve
              </button>
              <button type="button" class="danger" onClick={() => void decide('deny')}>
                Deny
              </button>
            </div>
          ) : (
            <p class="state empty">This request is {request.status}; nothing to approve.</p>
          )}
        </div>
      )}
    </section>
  );
}
