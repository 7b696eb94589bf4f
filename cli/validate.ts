/** `kubevmm validate FILE...`: the webhook's checks, offline. */
import { formatIssue } from '../api/issues.js';
import { validateDocuments } from '../api/validate.js';
import type { LoadedDocument } from './load.js';

/** Output lines and exit code of a validation run. */
export interface ValidateReport {
  ok: boolean;
  out: string[];
  err: string[];
}

/** Validates documents together (classes in any file apply to VMs in all of them). */
export function validateReport(docs: readonly LoadedDocument[]): ValidateReport {
  const results = validateDocuments(docs.map((d) => d.value));
  const report: ValidateReport = { ok: true, out: [], err: [] };
  results.forEach((result, i) => {
    const where = `${docs[i]?.file}:${docs[i]?.line}`;
    if (result.warning) report.err.push(`${where}: warning: ${result.warning}`);
    if (result.issues.length === 0) {
      report.out.push(`${where}: ${result.object}: valid`);
      return;
    }
    report.ok = false;
    for (const issue of result.issues) report.err.push(`${where}: ${formatIssue(issue)}`);
  });
  if (docs.length === 0) {
    report.ok = false;
    report.err.push('no documents found in the input');
  }
  return report;
}
