import type { ComponentChildren } from 'preact';

/** A table that scrolls sideways on a narrow screen; an empty heading leaves a column for row buttons. */
export function Table({ head, class: className, children }: { head: string[]; class?: string; children: ComponentChildren }) {
  return (
    <div class="scroll">
      <table class={className}>
        <thead>
          <tr>
            {head.map((h, i) => (h ? <th key={i}>{h}</th> : <th key={i} />))}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}
