/**
 * The report as CSV (GET /api/service/quality.csv) for the query on screen, downloaded as a file. It is
 * fetched with the session's bearer token (a plain link would carry none) and handed to the browser as
 * a blob, byte for byte, so the server's UTF-8 BOM reaches the spreadsheet program.
 */
import { api, call } from '../../api/api.ts';
import type { QualityReport } from './types.ts';

export async function downloadQualityCsv(r: QualityReport): Promise<void> {
  const query = {
    scope: r.scope.kind,
    ...(r.scope.kind === 'firm' ? {} : { id: r.scope.id }),
    from: r.period.from,
    to: r.period.to,
    bucket: r.period.bucket,
    hours: r.period.hours,
  };
  const blob = await call(api.GET('/api/service/quality.csv', { params: { query }, parseAs: 'blob' }));
  const url = URL.createObjectURL(blob instanceof Blob ? blob : new Blob([String(blob)], { type: 'text/csv;charset=utf-8' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = `service-quality-${r.scope.kind}-${r.period.from}-${r.period.to}.csv`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
