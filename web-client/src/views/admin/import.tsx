/**
 * 客户批量导入 / Client import (admin): pick a CSV file (UTF-8 or GBK/GB18030: the server decides), check
 * it (dry run), then import it. All or nothing per file: a rejected file shows every rejected row with
 * its field and reason; an imported one the number of clients created and those whose password the
 * admin must still set. The template (UTF-8 with BOM, so Excel opens it right; Chinese headers) is made
 * in the page from the server's own column list (src/admin/import-columns.ts).
 *
 * The file's bytes are sent as they are (text/csv), never re-encoded in the browser.
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { COLUMNS, templateCsv } from '../../../../src/admin/import-columns.ts';
import { api, ApiError, call, type Answer } from '../../api/api.ts';
import { Link } from '../../app/router.tsx';
import { errorText, t, tOr } from '../../i18n/i18n.ts';
import { Button, ErrorText, Field, Page, Panel } from '../../ui/ui.tsx';

type Result = Answer<'/api/admin/import/clients', 'post'>;
type ReportRow = Result['report'][number];

const MAX_BYTES = 5 * 1024 * 1024;

async function send(bytes: ArrayBuffer, dryRun: boolean): Promise<Result> {
  return call(
    api.POST('/api/admin/import/clients', {
      params: { query: { dryRun } },
      body: bytes,
      bodySerializer: (b) => b as ArrayBuffer,
      headers: { 'content-type': 'text/csv' },
    }),
  );
}

/** A column's name in the current language ('*': the whole row). */
const columnName = (field: string) => tOr(`imp_col_${field}`, field);

function Template() {
  const url = useMemo(() => URL.createObjectURL(new Blob(['\uFEFF' + templateCsv()], { type: 'text/csv;charset=utf-8' })), []);
  useEffect(() => () => URL.revokeObjectURL(url), [url]);
  return (
    <Panel title={t('imp_templateTitle')} testid="import-template">
      <div class="adm-pad">
        <p>{t('imp_templateHint')}</p>
        <ul data-testid="import-columns">
          {COLUMNS.map((c) => (
            <li key={c.field}>
              <strong>{c.zh}</strong>
              <span class="adm-mono">{` ${c.field}`}</span>
              {` — ${c.required ? t('imp_required') : t('imp_optional')} · ${tOr(`imp_hint_${c.field}`, '')}`}
            </li>
          ))}
        </ul>
        <a href={url} download={t('imp_templateFile')} data-testid="import-template-download">
          {t('imp_templateDownload')}
        </a>
      </div>
    </Panel>
  );
}

/** The rejected rows: one line per problem. */
function Report(props: { rows: ReportRow[] }) {
  return (
    <div class="adm-scroll">
      <table class="table" data-testid="import-report">
        <caption class="sr-only">{t('imp_reportCaption')}</caption>
        <thead>
          <tr>
            <th scope="col">{t('imp_row')}</th>
            <th scope="col">{t('imp_login')}</th>
            <th scope="col">{t('imp_field')}</th>
            <th scope="col">{t('imp_reason')}</th>
          </tr>
        </thead>
        <tbody>
          {props.rows.flatMap((r) =>
            r.errors.map((e, i) => (
              <tr key={`${r.row}-${i}`} data-testid="import-report-row" data-row={r.row} data-field={e.field} data-code={e.code}>
                <td>{r.row}</td>
                <td class="adm-mono">{r.login}</td>
                <td>{columnName(e.field)}</td>
                <td>
                  {errorText(e.code, e.message)}
                  {e.code === 'QIAO_CSV_VALUE_INVALID' ? <span class="field__hint">{` ${tOr(`imp_hint_${e.field}`, '')}`}</span> : null}
                  {e.code === 'QIAO_CSV_BROKER_INVALID' ? <span class="adm-mono">{` ${r.brokerLogin}`}</span> : null}
                </td>
              </tr>
            )),
          )}
        </tbody>
      </table>
    </div>
  );
}

type Outcome =
  | { kind: 'checked'; result: Result }
  | { kind: 'imported'; result: Result }
  | { kind: 'rejected'; total: number; rows: ReportRow[] }
  | { kind: 'failed'; error: unknown };

export function ImportView() {
  const [file, setFile] = useState<{ name: string; bytes: ArrayBuffer } | null>(null);
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [pickError, setPickError] = useState<unknown>(null);

  const pick = async (e: Event) => {
    const f = (e.currentTarget as HTMLInputElement).files?.[0];
    setOutcome(null);
    setPickError(null);
    setFile(null);
    if (!f) return;
    if (f.size > MAX_BYTES) {
      setPickError(new ApiError('QIAO_PAYLOAD_TOO_LARGE', '', 413));
      return;
    }
    setFile({ name: f.name, bytes: await f.arrayBuffer() });
  };

  const run = async (dryRun: boolean) => {
    if (!file) return;
    setBusy(true);
    try {
      const result = await send(file.bytes, dryRun);
      setOutcome({ kind: dryRun ? 'checked' : 'imported', result });
      if (!dryRun) setFile(null);
    } catch (err) {
      const details = (err as ApiError).details as { total?: number; report?: ReportRow[] } | undefined;
      if (err instanceof ApiError && err.code === 'QIAO_CSV_ROWS_REJECTED' && details?.report) setOutcome({ kind: 'rejected', total: details.total ?? 0, rows: details.report });
      else setOutcome({ kind: 'failed', error: err });
    } finally {
      setBusy(false);
    }
  };

  const checked = outcome?.kind === 'checked';
  return (
    <Page title={t('imp_title')} testid="import-view" hint={t('imp_hint')}>
      <Panel title={t('imp_fileTitle')} testid="import-file">
        <div class="adm-pad">
          <Field label={t('imp_file')} hint={t('imp_fileHint')}>
            <input type="file" accept=".csv,text/csv" data-testid="import-file-input" onChange={pick} />
          </Field>
          <ErrorText error={pickError} testid="import-pick-error" />
          <div class="adm-actions">
            <Button variant="ghost" testid="import-check" disabled={!file || busy} onClick={() => void run(true)}>
              {t('imp_check')}
            </Button>
            <Button variant="primary" testid="import-submit" disabled={!file || busy || !checked} onClick={() => void run(false)}>
              {busy ? t('imp_working') : t('imp_import')}
            </Button>
          </div>
          {file && !checked && !busy ? <p class="field__hint">{t('imp_checkFirst')}</p> : null}
        </div>
        <div aria-live="polite">
          {outcome?.kind === 'checked' ? (
            <p class="adm-pad" role="status" data-testid="import-checked" data-total={outcome.result.total} data-encoding={outcome.result.encoding}>
              {t('imp_checkedOk', { n: outcome.result.total, encoding: outcome.result.encoding === 'utf-8' ? 'UTF-8' : 'GB18030/GBK' })}
            </p>
          ) : null}
          {outcome?.kind === 'imported' ? <Imported result={outcome.result} /> : null}
          {outcome?.kind === 'rejected' ? (
            <div data-testid="import-rejected">
              <p class="adm-pad form__error" role="alert" data-code="QIAO_CSV_ROWS_REJECTED">
                {t('imp_rejected', { n: new Set(outcome.rows.map((r) => r.row)).size, total: outcome.total })}
              </p>
              <Report rows={outcome.rows} />
            </div>
          ) : null}
          {outcome?.kind === 'failed' ? <Failed error={outcome.error} /> : null}
        </div>
      </Panel>
      <Template />
    </Page>
  );
}

function Imported(props: { result: Result }) {
  const toSet = props.result.report.filter((r) => r.passwordGenerated);
  return (
    <div class="adm-pad" data-testid="import-done">
      <p role="status" data-testid="import-created" data-created={props.result.created}>
        {t('imp_created', { n: props.result.created })}
      </p>
      {toSet.length ? (
        <>
          <p>{t('imp_passwordsToSet', { n: toSet.length })}</p>
          <ul data-testid="import-passwords-to-set">
            {toSet.map((r) => (
              <li key={r.row}>{r.clientId ? <Link href={`/admin/users/${r.clientId}`}>{r.login}</Link> : r.login}</li>
            ))}
          </ul>
        </>
      ) : null}
    </div>
  );
}

/** A file-level refusal; for wrong columns, what was found and what is expected. */
function Failed(props: { error: unknown }) {
  const e = props.error as ApiError;
  const d = e?.code === 'QIAO_CSV_COLUMNS' ? (e.details as { unknown?: string[]; missing?: string[]; repeated?: string[] } | undefined) : undefined;
  return (
    <div class="adm-pad" data-testid="import-failed">
      <ErrorText error={e} testid="import-error" />
      {d ? (
        <ul data-testid="import-columns-problem">
          {d.unknown?.length ? <li>{`${t('imp_unknownColumns')}: ${d.unknown.join('、')}`}</li> : null}
          {d.repeated?.length ? <li>{`${t('imp_repeatedColumns')}: ${d.repeated.join('、')}`}</li> : null}
          {d.missing?.length ? <li>{`${t('imp_missingColumns')}: ${d.missing.join('、')}`}</li> : null}
        </ul>
      ) : null}
    </div>
  );
}
