/**
 * Server-rendered pages (consent, connect; error pages are worded in
 * page-errors.ts). Every interpolated value
 * is HTML-escaped by the `html` tag; pages cannot be framed and are never cached.
 * @module
 */
import type { Response } from '@google-cloud/functions-framework';

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
};

export const escapeHtml = (s: string): string => s.replace(/[&<>"'`]/g, (c) => ESCAPES[c] ?? c);

/** Pre-escaped markup, produced only by `html` (so nothing else can smuggle raw HTML in). */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

type Interpolation = string | number | SafeHtml | readonly SafeHtml[] | undefined | null | false;

export function html(strings: TemplateStringsArray, ...values: Interpolation[]): SafeHtml {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    if (v instanceof SafeHtml) out += v.value;
    else if (Array.isArray(v)) out += v.map((x) => x.value).join('');
    else if (v !== undefined && v !== null && v !== false) out += escapeHtml(String(v));
    out += strings[i + 1] ?? '';
  });
  return new SafeHtml(out);
}

/** How a page may differ from the others. */
export interface PageOptions {
  /**
   * `no-referrer` for a page that must not even tell our own origin where it came from (the "Your
   * access" page, Q5). Its forms then post with `Origin: null`; their handler accepts that only
   * with `Sec-Fetch-Site: same-origin` (`isSameOriginPost` with `allowNullOrigin`).
   */
  readonly referrerPolicy?: 'same-origin' | 'no-referrer';
}

/** Headers for every HTML page we serve (C9: no framing; no caching; no referrer leaks). */
export function pageSecurityHeaders(
  formActions: readonly string[] = [],
  options: PageOptions = {},
): Record<string, string> {
  return {
    'Content-Type': 'text/html; charset=utf-8',
    'Cache-Control': 'no-store',
    Pragma: 'no-cache',
    'Content-Security-Policy':
      `default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self' ${formActions.join(' ')}; frame-ancestors 'none'; base-uri 'none'`.replace(
        /\s+;/g,
        ';',
      ),
    'X-Frame-Options': 'DENY',
    'X-Content-Type-Options': 'nosniff',
    // same-origin, not no-referrer: with no-referrer browsers send `Origin: null` on our own form posts.
    'Referrer-Policy': options.referrerPolicy ?? 'same-origin',
  };
}

const STYLE = `
*{box-sizing:border-box}body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f3f5f8;color:#1c2530}
header{background:#0d2a4a;color:#fff;padding:14px 28px;font-weight:600;letter-spacing:.2px}
header span{opacity:.75;font-weight:400;margin-left:8px}
main{max-width:560px;margin:48px auto;padding:0 16px}
.card{background:#fff;border-radius:10px;box-shadow:0 1px 3px rgba(0,0,0,.12);padding:28px 32px}
h1{font-size:21px;margin:0 0 14px}h2{font-size:17px;margin:26px 0 8px}h3{font-size:15px;margin:18px 0 6px;word-break:break-word}p{margin:10px 0}
dl{display:grid;grid-template-columns:150px 1fr;gap:8px 12px;margin:18px 0;padding:14px 16px;background:#f7f9fb;border-radius:8px}
dt{color:#5b6875}dd{margin:0;word-break:break-word;font-weight:500}
.code{font:600 26px/1.2 ui-monospace,Menlo,Consolas,monospace;letter-spacing:4px;background:#eef3f8;padding:10px 16px;border-radius:8px;display:inline-block}
.actions{display:flex;gap:12px;margin-top:22px}
button{flex:1;font:600 15px system-ui,sans-serif;padding:11px 16px;border-radius:7px;cursor:pointer;border:1px solid #0d5fb3}
button.primary{background:#0d5fb3;color:#fff}button.secondary{background:#fff;color:#0d5fb3}
.warn{background:#fff6e5;border:1px solid #f0c36d;padding:10px 14px;border-radius:8px}
.muted{color:#5b6875;font-size:13px}
pre{background:#f7f9fb;padding:12px;border-radius:8px;overflow:auto;font-size:13px}
pre.secret{white-space:pre-wrap;word-break:break-all;font-size:14px;border:1px solid #c9d4e0}
dd input:not([type]),dd select{width:100%;font:15px system-ui,sans-serif;padding:6px 8px;border:1px solid #b8c4d0;border-radius:6px}
h2{font-size:17px;margin:24px 0 8px}
.picks{max-height:220px;overflow:auto;margin:0;padding:6px 8px;border:1px solid #b8c4d0;border-radius:6px;font-weight:400}
.picks label{display:block;padding:2px 0}
`;

export function page(title: string, body: SafeHtml): string {
  return html`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${title}</title><style>${new SafeHtml(STYLE)}</style></head><body><header>Rally MCP server<span>for Copilot agents</span></header><main><div class="card">${body}</div></main></body></html>`
    .value;
}

export function sendPage(
  res: Response,
  status: number,
  title: string,
  body: SafeHtml,
  formActions: readonly string[] = [],
  options: PageOptions = {},
): void {
  res.status(status).set(pageSecurityHeaders(formActions, options)).send(page(title, body));
}

/**
 * Our own signed-in pages, the only places a redirect may go besides a client (through
 * `clientRedirect`, with `iss`) and Rally: fixed same-origin paths, never a URL from a request (H9).
 */
export type OwnPage = '/account' | '/connections';
export const ownPage = (path: OwnPage): OwnPage => path;
