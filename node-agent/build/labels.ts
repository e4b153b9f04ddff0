/** Node labels from ZECTRE_AGENT_LABELS: "builder,gpu=1" -> { builder: 'true', gpu: '1' }. */
export function parseLabels(raw: string | undefined): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const item of (raw ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const at = item.indexOf('=');
    const key = (at < 0 ? item : item.slice(0, at)).trim();
    const value = at < 0 ? 'true' : item.slice(at + 1).trim();
    if (!/^[A-Za-z0-9_.\/-]{1,128}$/.test(key) || value.length > 1024 || /[\0-\x1f]/.test(value)) {
      throw new LabelError(`ZECTRE_AGENT_LABELS: "${item.slice(0, 80)}" is not a label (name or name=value, names of letters, digits, _ . / -)`);
    }
    labels[key] = value;
  }
  return labels;
}

export class LabelError extends Error {}

/** True for a node that takes builds: label `builder` present and not "false". */
export const isBuilder = (labels: Record<string, string>) => 'builder' in labels && labels.builder !== 'false';
