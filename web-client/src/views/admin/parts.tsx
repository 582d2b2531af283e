/**
 * Pieces the admin views share: the organisation loaded once per view (teams by branch, names by id),
 * a team picker grouped by branch, an error that also lists the reasons a password was refused, an
 * in-page confirmation (no browser dialog), and cursor paging.
 */
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { api, call, type Role } from '../../api/api.ts';
import { t, tOr } from '../../i18n/i18n.ts';
import { formatDate } from '../../lib/time.ts';
import { Button, ErrorText } from '../../ui/ui.tsx';
import { useLoad, type Loaded } from '../../ui/use-load.ts';
import { CLIENT_RISKS, TIERS, weakReasons, type Branch, type ClientRisk, type Org, type Team, type Tier } from './types.ts';

export interface OrgIndex {
  branches: Branch[];
  teams: Map<string, Team & { branchName: string }>;
  branchName(id: string | null | undefined): string;
  teamName(id: string | null | undefined): string;
}

export function indexOrg(org: Org | undefined): OrgIndex {
  const branches = org?.branches ?? [];
  const teams = new Map<string, Team & { branchName: string }>();
  for (const b of branches) for (const tm of b.teams) teams.set(tm.id, { ...tm, branchName: b.name });
  const byId = new Map(branches.map((b) => [b.id, b.name]));
  return {
    branches,
    teams,
    branchName: (id) => (id ? (byId.get(id) ?? id) : ''),
    teamName: (id) => (id ? (teams.get(id)?.name ?? id) : ''),
  };
}

/** The organisation tree (admin, compliance). */
export function useOrg(enabled = true): Loaded<Org> & { index: OrgIndex } {
  const org = useLoad(async () => (enabled ? await call(api.GET('/api/admin/org')) : { branches: [] }), [enabled]);
  return { ...org, index: indexOrg(org.data) };
}

/** Open teams grouped by branch; closed ones only when currently chosen. */
export function TeamSelect(props: { index: OrgIndex; value: string; onChange(id: string): void; testid?: string; allowNone?: string; required?: boolean; disabled?: boolean }) {
  return (
    <select data-testid={props.testid} value={props.value} required={props.required} disabled={props.disabled} onChange={(e) => props.onChange(e.currentTarget.value)}>
      <option value="">{props.allowNone ?? t('adm_choose')}</option>
      {props.index.branches.map((b) => {
        const teams = b.teams.filter((tm) => !tm.closedAt || tm.id === props.value);
        if (!teams.length) return null;
        return (
          <optgroup key={b.id} label={b.name}>
            {teams.map((tm) => (
              <option key={tm.id} value={tm.id}>
                {`${b.name} / ${tm.name}`}
              </option>
            ))}
          </optgroup>
        );
      })}
    </select>
  );
}

export function BranchSelect(props: { index: OrgIndex; value: string; onChange(id: string): void; testid?: string; none?: string; openOnly?: boolean }) {
  return (
    <select data-testid={props.testid} value={props.value} onChange={(e) => props.onChange(e.currentTarget.value)}>
      <option value="">{props.none ?? t('adm_choose')}</option>
      {props.index.branches
        .filter((b) => !props.openOnly || !b.closedAt || b.id === props.value)
        .map((b) => (
          <option key={b.id} value={b.id}>
            {b.name}
          </option>
        ))}
    </select>
  );
}

/** An error by its code; a refused password also lists why (too short, common, …). */
export function AdminError(props: { error: unknown; testid: string }) {
  const reasons = weakReasons(props.error);
  if (!props.error) return null;
  return (
    <div class="adm-error">
      <ErrorText error={props.error} testid={props.testid} />
      {reasons.length ? (
        <ul class="adm-reasons" data-testid={`${props.testid}-reasons`}>
          {reasons.map((r) => (
            <li key={r} data-reason={r}>
              {tOr(`adm_weak_${r}`, r)}
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}

/**
 * A button that asks first, in the page: the question with confirm and cancel buttons replaces it
 * until one is chosen.
 */
export function ConfirmButton(props: { label: string; question: string; confirm: string; onConfirm(): void; testid: string; variant?: 'danger' | 'ghost' | 'primary'; disabled?: boolean; children?: ComponentChildren }) {
  const [asking, setAsking] = useState(false);
  if (!asking)
    return (
      <Button variant={props.variant ?? 'ghost'} testid={props.testid} disabled={props.disabled} onClick={() => setAsking(true)}>
        {props.label}
      </Button>
    );
  return (
    <span class="adm-confirm" role="group" aria-label={props.question} data-testid={`${props.testid}-confirm-box`}>
      <span class="adm-confirm__q">{props.question}</span>
      <Button
        variant={props.variant === 'primary' ? 'primary' : 'danger'}
        testid={`${props.testid}-confirm`}
        disabled={props.disabled}
        onClick={() => {
          setAsking(false);
          props.onConfirm();
        }}
      >
        {props.confirm}
      </Button>
      <Button variant="ghost" testid={`${props.testid}-cancel`} onClick={() => setAsking(false)}>
        {t('adm_cancel')}
      </Button>
    </span>
  );
}

/**
 * Cursor paging: the cursors of the pages seen so far, so "previous" goes back without a server
 * cursor for it. `cursor` is the one of the page shown.
 */
export function usePager(): { cursor: string | undefined; page: number; next(c: string): void; prev(): void; reset(): void } {
  const [stack, setStack] = useState<string[]>([]);
  return {
    cursor: stack[stack.length - 1],
    page: stack.length + 1,
    next: (c) => setStack((s) => [...s, c]),
    prev: () => setStack((s) => s.slice(0, -1)),
    reset: () => setStack([]),
  };
}

export function Pager(props: { page: number; hasNext: boolean; onPrev(): void; onNext(): void; testid: string }) {
  return (
    <nav class="adm-pager" aria-label={t('adm_paging')} data-testid={props.testid}>
      <Button variant="ghost" testid={`${props.testid}-prev`} disabled={props.page <= 1} onClick={props.onPrev}>
        {t('adm_prev')}
      </Button>
      <span data-testid={`${props.testid}-page`}>{t('adm_pageN', { n: props.page })}</span>
      <Button variant="ghost" testid={`${props.testid}-next`} disabled={!props.hasNext} onClick={props.onNext}>
        {t('adm_next')}
      </Button>
    </nav>
  );
}

/** A calendar date (YYYY-MM-DD, a Shanghai day) as the language writes dates; "—" when none. */
export function formatDay(d: string | null | undefined): string {
  return d ? formatDate(`${d.slice(0, 10)}T00:00:00+08:00`) : '—';
}

/** A select of fixed values named in the current language; `blank` adds an empty first choice. */
function ValueSelect<V extends string>(props: { values: readonly V[]; name(v: V): string; value: V | ''; blank?: string; onChange(v: V | ''): void; testid: string }) {
  return (
    <select data-testid={props.testid} value={props.value} onChange={(e) => props.onChange(e.currentTarget.value as V | '')}>
      {props.blank !== undefined ? <option value="">{props.blank}</option> : null}
      {props.values.map((x) => (
        <option key={x} value={x}>
          {props.name(x)}
        </option>
      ))}
    </select>
  );
}

export function TierSelect(props: { value: Tier | ''; blank?: string; onChange(v: Tier | ''): void; testid: string }) {
  return <ValueSelect values={TIERS} name={(x) => tOr(`tier_${x}`, x)} {...props} />;
}

export function ClientRiskSelect(props: { value: ClientRisk | ''; blank?: string; onChange(v: ClientRisk | ''): void; testid: string }) {
  return <ValueSelect values={CLIENT_RISKS} name={(x) => tOr(`adm_risk_${x}`, x)} {...props} />;
}

export function RoleSelect(props: { roles: readonly Role[]; value: Role | ''; blank?: string; onChange(v: Role | ''): void; testid: string }) {
  const { roles, ...rest } = props;
  return <ValueSelect values={roles} name={(x) => tOr(`role_${x}`, x)} {...rest} />;
}
