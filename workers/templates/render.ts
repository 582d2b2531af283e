/**
 * Email bodies from a stored publication: a subject, a plain-text body and an HTML body, in the
 * recipient's language. Every value from a payload is escaped in HTML (a research title is user input).
 */
import { resolveChannel } from '../../channels/catalogue.ts';
import { STRINGS, type Lang, type Strings } from './strings.ts';
import { reminderFields, reminderTitle } from './reminder-text.ts';
import { followupContent, surveyContent } from './followup-text.ts';

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

export interface MessageForMail {
  id: string;
  channel: string;
  kind: string;
  payload: unknown;
  senderName?: string;
  publishedAt: Date;
}

export interface RenderContext {
  lang: Lang;
  recipientName: string;
  timeZone: string;
  publicUrl: string;
  critical?: boolean;
  requireAck?: boolean;
}

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESC[c]);
}

/** Subjects are one line: strip line breaks (header injection is nodemailer's job, readability ours). */
function oneLine(s: string, max = 180): string {
  const t = s.replace(/[\r\n\t]+/g, ' ').trim();
  return t.length > max ? t.slice(0, max - 1) + '…' : t;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v);
}

function channelTitle(name: string, lang: Lang): string {
  try {
    const r = resolveChannel(name);
    const t = r.family.title(r.parsed);
    return lang === 'en' ? t.en : t.zh;
  } catch {
    return name;
  }
}

const dateFormats = new Map<string, Intl.DateTimeFormat>();

function when(d: Date, lang: Lang, timeZone: string): string {
  const key = `${lang}|${timeZone}`;
  let f = dateFormats.get(key);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat(lang, { timeZone, dateStyle: 'medium', timeStyle: 'short' });
    } catch {
      return d.toISOString();
    }
    if (dateFormats.size > 1000) dateFormats.clear();
    dateFormats.set(key, f);
  }
  return f.format(d);
}

/** The message in the web client's inbox: `<publicUrl>/inbox/<messageId>`. */
function link(ctx: RenderContext, m: MessageForMail): string {
  // A work reminder is acted on in the reminders view (snooze, done), not the inbox.
  if (m.kind === 'reminder') return `${ctx.publicUrl}/reminders`;
  return `${ctx.publicUrl}/inbox/${encodeURIComponent(m.id)}`;
}

/** The web client's notification settings page. */
function settingsLink(ctx: RenderContext): string {
  return `${ctx.publicUrl}/settings/notifications`;
}

/** The footer's text lines: the footer, then the settings page with its address. */
function footerText(s: Strings, ctx: RenderContext): string[] {
  return [s.footer, `${s.settings}: ${settingsLink(ctx)}`];
}

/** The footer in HTML, its mention of the settings page a link to it. */
function footerHtml(s: Strings, ctx: RenderContext): string {
  const e = escapeHtml;
  const a = `<a href="${e(settingsLink(ctx))}" style="color:#0969da">${e(s.settings)}</a>`;
  const i = s.footer.indexOf(s.settings);
  const inner = i >= 0 ? e(s.footer.slice(0, i)) + a + e(s.footer.slice(i + s.settings.length)) : `${e(s.footer)} ${a}`;
  return `<hr style="border:none;border-top:1px solid #d0d7de"><p style="font-size:12px;color:#57606a">${inner}</p>`;
}

interface Field {
  label: string;
  value: string;
}

/** Title, body paragraphs and labelled fields of a publication, by kind. */
function content(m: MessageForMail, s: Strings, lang: Lang): { title: string; lead?: string; body: string; fields: Field[]; disclaimer?: string } {
  const p = (m.payload ?? {}) as Record<string, unknown>;
  switch (m.kind) {
    case 'note':
    case 'research-forward': {
      const fields: Field[] = [];
      const tickers = Array.isArray(p.tickers) ? p.tickers.map(str).filter(Boolean) : [];
      if (tickers.length) fields.push({ label: s.tickers, value: tickers.join(', ') });
      if (p.riskLevel) fields.push({ label: s.riskLevel, value: s.riskNames[str(p.riskLevel)] ?? str(p.riskLevel) });
      return {
        title: str(p.title),
        lead: m.kind === 'research-forward' ? s.forwarded : undefined,
        body: [str(p.summary), str(p.body)].filter(Boolean).join('\n\n'),
        fields,
        disclaimer: s.researchDisclaimer,
      };
    }
    case 'alert': {
      const fields: Field[] = [];
      if (p.symbol) fields.push({ label: s.symbol, value: str(p.symbol) });
      if (typeof p.price === 'number') fields.push({ label: s.price, value: p.price.toLocaleString(lang) });
      return { title: str(p.title), body: str(p.body), fields };
    }
    case 'chat':
      return { title: s.newMessage(m.senderName ?? ''), body: str(p.text), fields: [] };
    case 'reminder':
      return { title: reminderTitle(p, lang), body: str(p.note), fields: reminderFields(p, lang) };
    case 'followup':
      return followupContent(p, lang);
    case 'survey':
      return surveyContent(p, lang);
    default:
      return { title: str(p.title) || m.kind, body: str(p.body), fields: p.url ? [{ label: 'URL', value: str(p.url) }] : [] };
  }
}

export function renderMessageEmail(m: MessageForMail, ctx: RenderContext): RenderedMail {
  const s = STRINGS[ctx.lang];
  const c = content(m, s, ctx.lang);
  const fields: Field[] = [
    { label: s.channel, value: channelTitle(m.channel, ctx.lang) },
    ...(m.senderName && m.kind !== 'chat' ? [{ label: s.from, value: m.senderName }] : []),
    { label: s.published, value: when(m.publishedAt, ctx.lang, ctx.timeZone) },
    ...c.fields,
  ];
  const prefix = (ctx.critical ? `【${s.important}】` : '') + `[${s.prefix[m.kind] ?? s.brand}]`;
  const subject = oneLine(`${prefix} ${c.title}`);
  const url = link(ctx, m);

  const text = [
    s.greeting(ctx.recipientName),
    '',
    ...(ctx.requireAck ? [s.ackRequest, ''] : []),
    ...(c.lead ? [c.lead, ''] : []),
    c.title,
    '',
    ...fields.map((f) => `${f.label}: ${f.value}`),
    ...(c.body ? ['', c.body] : []),
    '',
    `${s.open}: ${url}`,
    ...(c.disclaimer ? ['', c.disclaimer] : []),
    '',
    '--',
    ...footerText(s, ctx),
    '',
  ].join('\n');

  const e = escapeHtml;
  const html = `<!doctype html>
<html lang="${ctx.lang}"><head><meta charset="utf-8"><title>${e(subject)}</title></head>
<body style="font-family:-apple-system,'PingFang SC','Microsoft YaHei',Helvetica,Arial,sans-serif;color:#1f2328;max-width:640px;margin:0 auto;padding:16px">
<p>${e(s.greeting(ctx.recipientName))}</p>
${ctx.critical ? `<p style="background:#fff1f0;border-left:4px solid #cf222e;padding:8px 12px;font-weight:600">${e(s.important)}${ctx.requireAck ? ' — ' + e(s.ackRequest) : ''}</p>` : ctx.requireAck ? `<p style="font-weight:600">${e(s.ackRequest)}</p>` : ''}
${c.lead ? `<p>${e(c.lead)}</p>` : ''}
<h2 style="font-size:20px;margin:16px 0 8px">${e(c.title)}</h2>
<table style="border-collapse:collapse;font-size:14px;color:#57606a">${fields.map((f) => `<tr><td style="padding:2px 12px 2px 0">${e(f.label)}</td><td>${e(f.value)}</td></tr>`).join('')}</table>
${c.body ? c.body.split(/\n{2,}/).map((para) => `<p style="line-height:1.6">${e(para).replace(/\n/g, '<br>')}</p>`).join('\n') : ''}
<p><a href="${e(url)}" style="display:inline-block;background:#0969da;color:#fff;padding:8px 16px;border-radius:6px;text-decoration:none">${e(s.open)}</a></p>
${c.disclaimer ? `<p style="font-size:12px;color:#57606a">${e(c.disclaimer)}</p>` : ''}
${footerHtml(s, ctx)}
</body></html>
`;
  return { subject, text, html };
}

/** One email listing several publications (hourly or daily digest). */
export function renderDigestEmail(items: MessageForMail[], ctx: RenderContext): RenderedMail {
  const s = STRINGS[ctx.lang];
  const rows = items.map((m) => {
    const c = content(m, s, ctx.lang);
    return { title: c.title, channel: channelTitle(m.channel, ctx.lang), time: when(m.publishedAt, ctx.lang, ctx.timeZone), summary: c.body.split('\n')[0].slice(0, 300), url: link(ctx, m), kind: m.kind };
  });
  const subject = oneLine(s.digestSubject(items.length));
  const text = [
    s.greeting(ctx.recipientName),
    '',
    s.digestIntro(items.length),
    '',
    ...rows.flatMap((r, i) => [`${i + 1}. [${s.prefix[r.kind] ?? r.channel}] ${r.title}`, `   ${r.channel} · ${r.time}`, ...(r.summary ? [`   ${r.summary}`] : []), `   ${r.url}`, '']),
    ...(items.some((m) => m.kind === 'note' || m.kind === 'research-forward') ? [s.researchDisclaimer, ''] : []),
    '--',
    ...footerText(s, ctx),
    '',
  ].join('\n');
  const e = escapeHtml;
  const html = `<!doctype html>
<html lang="${ctx.lang}"><head><meta charset="utf-8"><title>${e(subject)}</title></head>
<body style="font-family:-apple-system,'PingFang SC','Microsoft YaHei',Helvetica,Arial,sans-serif;color:#1f2328;max-width:640px;margin:0 auto;padding:16px">
<p>${e(s.greeting(ctx.recipientName))}</p>
<p>${e(s.digestIntro(items.length))}</p>
<ol style="padding-left:20px">
${rows.map((r) => `<li style="margin-bottom:12px"><a href="${e(r.url)}" style="font-weight:600;color:#0969da">${e(r.title)}</a><br><span style="font-size:12px;color:#57606a">${e(r.channel)} · ${e(r.time)}</span>${r.summary ? `<br><span>${e(r.summary)}</span>` : ''}</li>`).join('\n')}
</ol>
${items.some((m) => m.kind === 'note' || m.kind === 'research-forward') ? `<p style="font-size:12px;color:#57606a">${e(s.researchDisclaimer)}</p>` : ''}
${footerHtml(s, ctx)}
</body></html>
`;
  return { subject, text, html };
}
