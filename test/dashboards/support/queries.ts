/**
 * Reads generated dashboards as plain JSON (what Grafana loads) and extracts what the tests check:
 * every PromQL expression (panel targets, annotations, variable selectors), the template variables
 * used and defined, and the `backhaul_*` metric names referenced.
 */

/** Minimal view of the dashboard JSON; we read it as Grafana does, not through SDK types. */
export type Json = Record<string, unknown>;

export interface ExtractedQuery {
  /** Where it comes from, for error messages: `agent.json panel 7 "tc drops" A`. */
  where: string;
  kind: 'panel' | 'annotation' | 'variable';
  /** The expression as written (with Grafana macros and variables). */
  raw: string;
  /** Instant/table query or heatmap format, as configured. */
  format?: string;
  legendFormat?: string;
  panelType?: string;
}

/** All panels, including those nested in collapsed rows. */
export function allPanels(dash: Json): Json[] {
  const out: Json[] = [];
  for (const p of (dash.panels as Json[] | undefined) ?? []) {
    out.push(p);
    for (const nested of (p.panels as Json[] | undefined) ?? []) out.push(nested);
  }
  return out;
}

export function templateVariables(dash: Json): Json[] {
  return ((dash.templating as Json | undefined)?.list as Json[] | undefined) ?? [];
}

const LABEL_VALUES = /^label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$/s;

/** Every PromQL expression of a dashboard. Variable queries contribute their series selector. */
export function extractQueries(file: string, dash: Json): ExtractedQuery[] {
  const out: ExtractedQuery[] = [];
  for (const p of allPanels(dash)) {
    for (const t of (p.targets as Json[] | undefined) ?? []) {
      if (typeof t.expr !== 'string') continue;
      out.push({
        where: `${file} panel ${String(p.id)} "${String(p.title)}" ${String(t.refId)}`,
        kind: 'panel',
        raw: t.expr,
        format: t.format as string | undefined,
        legendFormat: t.legendFormat as string | undefined,
        panelType: p.type as string,
      });
    }
  }
  for (const a of (((dash.annotations as Json | undefined)?.list as Json[] | undefined) ?? [])) {
    if (typeof a.expr === 'string') {
      out.push({ where: `${file} annotation "${String(a.name)}"`, kind: 'annotation', raw: a.expr });
    }
  }
  for (const v of templateVariables(dash)) {
    if (v.type !== 'query') continue;
    const query = typeof v.query === 'string' ? v.query : String((v.query as Json | undefined)?.query ?? '');
    const m = LABEL_VALUES.exec(query.trim());
    if (!m) throw new Error(`${file} variable ${String(v.name)}: unsupported variable query ${JSON.stringify(query)}`);
    out.push({ where: `${file} variable ${String(v.name)}`, kind: 'variable', raw: m[1]!.trim() });
  }
  return out;
}

/** Grafana's built-in macros, replaced by fixed durations (what `promtool` can parse). */
export const MACRO_DURATIONS: Record<string, string> = {
  __rate_interval: '1m',
  __interval: '1m',
  __range: '1h',
};

/** Names of template variables referenced in a string: `$x`, `${x}`, `${x:fmt}`, `[[x]]`. */
export function referencedVariables(text: string): string[] {
  const names = new Set<string>();
  for (const m of text.matchAll(/\$\{([a-zA-Z0-9_]+)(?::[^}]*)?\}|\$([a-zA-Z0-9_]+)|\[\[([a-zA-Z0-9_]+)(?::[^\]]*)?\]\]/g)) {
    const name = m[1] ?? m[2] ?? m[3];
    if (name && !name.startsWith('__')) names.add(name);
  }
  return [...names];
}

/**
 * Replaces Grafana macros by fixed durations and each variable by its "All" value (or its current
 * value when it has no All), the way Grafana interpolates a query before sending it.
 */
export function substitute(expr: string, variables: Json[]): string {
  const valueOf = (name: string): string => {
    if (name in MACRO_DURATIONS) return MACRO_DURATIONS[name]!;
    const v = variables.find((x) => x.name === name);
    if (!v) throw new Error(`variable $${name} is not defined`);
    if (typeof v.allValue === 'string' && v.allValue !== '') return v.allValue;
    const cur = (v.current as Json | undefined)?.value;
    if (typeof cur === 'string') return cur;
    throw new Error(`variable $${name} has no All value and no current value`);
  };
  return expr
    .replace(/\$\{([a-zA-Z0-9_]+)(?::[^}]*)?\}/g, (_m, n: string) => valueOf(n))
    .replace(/\[\[([a-zA-Z0-9_]+)(?::[^\]]*)?\]\]/g, (_m, n: string) => valueOf(n))
    .replace(/\$([a-zA-Z0-9_]+)/g, (_m, n: string) => valueOf(n));
}

/** `backhaul_*` metric names in an expression (not recording-rule names, which contain colons). */
export function metricNamesIn(expr: string): string[] {
  const names = new Set<string>();
  for (const m of expr.matchAll(/(?<![A-Za-z0-9_:])backhaul_[A-Za-z0-9_]*(?![A-Za-z0-9_:])/g)) names.add(m[0]);
  return [...names].sort();
}

/** Every string inside a JSON value (titles, legends, expressions...), for variable-use checks. */
export function allStrings(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const v of value) allStrings(v, out);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) allStrings(v, out);
  return out;
}

/** Every dashboard's queries with macros replaced and variables set to All (or to `values`). */
export function substitutedQueries(
  dashboards: ReadonlyArray<{ file: string; dash: Json }>,
  values: Record<string, string> = {},
): Array<ExtractedQuery & { expr: string }> {
  return dashboards.flatMap(({ file, dash }) => {
    const vars = templateVariables(dash).map((v) => (typeof v.name === 'string' && v.name in values
      ? { ...v, allValue: values[v.name] } : v));
    return extractQueries(file, dash).map((q) => ({ ...q, expr: substitute(q.raw, vars) }));
  });
}
