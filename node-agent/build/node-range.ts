/**
 * `engines.node` against the builder's Node version, for the ranges package.json files use in
 * practice: `>=18`, `^20.1`, `~18.17`, `20.x`, `18 || 20`, `>=18 <21`, `*`. Pure, no dependency.
 */
type Version = [number, number, number];

function parse(v: string): { version: Version; parts: number } | null {
  const m = /^v?(\d+|[xX*])(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?(?:[-+].*)?$/.exec(v.trim());
  if (!m) return null;
  const nums: number[] = [];
  for (const p of m.slice(1)) {
    if (p === undefined || /[xX*]/.test(p)) break;
    nums.push(Number(p));
  }
  return { version: [nums[0] ?? 0, nums[1] ?? 0, nums[2] ?? 0], parts: nums.length };
}

const cmp = (a: Version, b: Version) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];

function comparator(c: string, have: Version): boolean {
  const m = /^(>=|<=|>|<|=|\^|~)?\s*(.+)$/.exec(c);
  if (!m) return false;
  const op = m[1] ?? '';
  const p = parse(m[2]!);
  if (!p) throw new Error(`unsupported version "${c}"`);
  const { version: v, parts } = p;
  if (parts === 0) return true;
  const upper = (bumpAt: number): Version => (bumpAt === 0 ? [v[0] + 1, 0, 0] : bumpAt === 1 ? [v[0], v[1] + 1, 0] : [v[0], v[1], v[2] + 1]);
  switch (op) {
    case '>=': return cmp(have, v) >= 0;
    case '>': return parts < 3 ? cmp(have, upper(parts - 1)) >= 0 : cmp(have, v) > 0;
    case '<': return cmp(have, v) < 0;
    case '<=': return parts < 3 ? cmp(have, upper(parts - 1)) < 0 : cmp(have, v) <= 0;
    case '^': return cmp(have, v) >= 0 && cmp(have, v[0] > 0 || parts === 1 ? upper(0) : v[1] > 0 || parts === 2 ? upper(1) : upper(2)) < 0;
    case '~': return cmp(have, v) >= 0 && cmp(have, parts === 1 ? upper(0) : upper(1)) < 0;
    default: return cmp(have, v) >= 0 && cmp(have, upper(parts - 1)) < 0; // "20", "20.1", "=20.1.2", "20.x"
  }
}

/** Does `version` (e.g. "v20.20.2") satisfy `range`? Throws on a range it cannot read. */
export function satisfies(version: string, range: string): boolean {
  const have = parse(version)?.version;
  if (!have) throw new Error(`unreadable version ${version}`);
  return range.split('||').some((alt) => {
    const trimmed = alt.trim();
    if (trimmed === '' || trimmed === '*' || trimmed === 'x') return true;
    const hyphen = /^(\S+)\s+-\s+(\S+)$/.exec(trimmed);
    if (hyphen) return comparator(`>=${hyphen[1]}`, have) && comparator(`<=${hyphen[2]}`, have);
    // ">= 18" is one comparator: glue operators to their versions first.
    return trimmed.replace(/(>=|<=|>|<|=|\^|~)\s+/g, '$1').split(/\s+/).every((c) => comparator(c, have));
  });
}
