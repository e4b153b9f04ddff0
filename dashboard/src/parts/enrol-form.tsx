import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import type { Enrolled } from '../../../protocol/passkeys.js';
import { enrolErrorText, enrolPasskey, type EnrolStart } from '../passkeys.js';
import { Outcome } from './states.js';
import { useBusySubmit } from './use-busy-submit.js';

interface Props {
  /** What the enrolment starts from (a setup or invite token), given the trimmed name. */
  start(name: string): EnrolStart;
  onEnrolled(e: Enrolled): void;
  /** The name field: its id, label and first value. */
  nameId: string;
  nameLabel: string;
  initialName?: string;
  placeholder?: string;
  submitLabel: string;
  /** Shown above the name field (what this enrolment is for). */
  intro: ComponentChildren;
  /** Shown below the button. */
  children?: ComponentChildren;
}

/** A new person names themselves and enrols their first passkey (the setup link, an invite link). */
export function EnrolForm({ start, onEnrolled, nameId, nameLabel, initialName = '', placeholder, submitLabel, intro, children }: Props) {
  const [name, setName] = useState(initialName);
  const { busy, error, run } = useBusySubmit();
  const submit = (e: Event) => {
    e.preventDefault();
    void run(async () => onEnrolled(await enrolPasskey(start(name.trim()))), enrolErrorText);
  };
  return (
    <>
      <form onSubmit={submit} class="card">
        {intro}
        <label for={nameId}>{nameLabel}</label>
        <input id={nameId} value={name} onInput={(e) => setName(e.currentTarget.value)} required autocomplete="username" placeholder={placeholder} />
        <button type="submit" disabled={busy || !name.trim()}>
          {busy ? 'Waiting for the passkey…' : submitLabel}
        </button>
        {children}
      </form>
      <Outcome error={error} />
    </>
  );
}
