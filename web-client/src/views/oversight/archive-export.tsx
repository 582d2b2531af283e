/**
 * The result of an archive export: the files (records.jsonl, records.txt, manifest.json) as downloads
 * made in the page (object URLs, revoked when the export is replaced or the view closes), each with its
 * sha256, and the manifest as text.
 */
import { useEffect, useMemo } from 'preact/hooks';
import type { Answer } from '../../api/api.ts';
import { t } from '../../i18n/i18n.ts';
import { Panel } from '../../ui/ui.tsx';

export type ExportBundle = Answer<'/api/compliance/exports', 'post'>;

export function ExportResult(props: { bundle: ExportBundle }) {
  const b = props.bundle;
  const files = b.files ?? [];
  const urls = useMemo(() => new Map(files.map((f) => [f.name ?? '', URL.createObjectURL(new Blob([f.content ?? ''], { type: f.contentType ?? 'text/plain' }))])), [b]);
  useEffect(() => () => urls.forEach((u) => URL.revokeObjectURL(u)), [urls]);
  const manifest = b.manifest as { recordCount?: number } | undefined;
  return (
    <Panel title={t('ovExported')} testid="archive-export">
      <p>
        {`${t('ovExportId')}: `}
        <span class="ov-mono" data-testid="export-id">
          {b.exportId}
        </span>
        {` · ${t('ovRecordCount')}: ${manifest?.recordCount ?? 0}`}
      </p>
      <ul class="ov-plain">
        {files.map((f) => (
          <li key={f.name} data-testid="export-file" data-name={f.name} data-sha256={f.sha256}>
            <a href={urls.get(f.name ?? '')} download={`${b.exportId}-${f.name}`} data-testid={`export-download-${f.name}`}>
              {`${t('ovDownload')} ${f.name}`}
            </a>
            <span class="ov-mono ov-muted">{` sha256 ${f.sha256}`}</span>
          </li>
        ))}
      </ul>
      <details>
        <summary>{t('ovManifest')}</summary>
        <pre class="ov-pre" data-testid="export-manifest">
          {files.find((f) => f.name === 'manifest.json')?.content ?? ''}
        </pre>
      </details>
    </Panel>
  );
}
