/** Recovery codes, shown once right after they are made; the page cannot show them again. */
export function RecoveryCodes({ codes, onDone }: { codes: string[]; onDone(): void }) {
  return (
    <main class="signin">
      <h1>Save your recovery codes</h1>
      <div class="card stack" role="region" aria-label="recovery codes">
        <p>
          Each code signs you in once if you lose your passkey. Keep them somewhere safe (a password manager, on paper).
          <b> They are not shown again.</b>
        </p>
        <ol class="codes">
          {codes.map((c) => (
            <li key={c}>
              <code class="recovery-code">{c}</code>
            </li>
          ))}
        </ol>
        <button type="button" onClick={onDone}>
          I saved them, continue
        </button>
      </div>
    </main>
  );
}
