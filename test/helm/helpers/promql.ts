// The metric names a PromQL expression reads, so a test can check each against the names the
// code exports. Not a parser: label matchers, strings, ranges and Grafana variables are cut out,
// and what is left is either PromQL's own vocabulary or a metric name.

/** Functions, aggregations and keywords of PromQL (the ones our rules and dashboard may use). */
const PROMQL_WORDS = new Set([
  'sum', 'min', 'max', 'avg', 'count', 'stddev', 'topk', 'bottomk', 'quantile', 'group',
  'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset',
  'rate', 'irate', 'increase', 'delta', 'idelta', 'deriv', 'absent', 'absent_over_time', 'vector', 'scalar',
  'histogram_quantile', 'min_over_time', 'max_over_time', 'avg_over_time', 'sum_over_time', 'count_over_time',
  'clamp_min', 'clamp_max', 'label_values', 'time', 'le',
]);

/** Metric names in `expr`. */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/label_values\((.*),\s*\w+\s*\)/g, '$1') // Grafana's label_values(metric, label)
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // strings
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // ranges and subqueries
    .replace(/\$\w+/g, ' ') // Grafana variables
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' $1 '); // label lists
  const names = bare.match(/[A-Za-z_:][A-Za-z0-9_:]*/g) ?? [];
  return [...new Set(names.filter((n) => !PROMQL_WORDS.has(n) && !/^\d/.test(n)))];
}

/** The series names a registry exposes for its `# TYPE` lines (histograms as _bucket, _sum, _count too). */
export function exposedNames(exposition: string): Set<string> {
  const out = new Set<string>();
  for (const m of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name = '', type] = m;
    out.add(name);
    if (type === 'histogram' || type === 'summary') for (const suffix of ['_bucket', '_sum', '_count']) out.add(name + suffix);
  }
  return out;
}
