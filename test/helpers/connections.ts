/**
 * The connection-token pages (issue 18) without a browser: sign in to /connections through the
 * real Rally sandbox sign-in (cookie jar, real HTTP), read the page's forms, post them like the
 * page does, and call /mcp with only static headers, as the Copilot coding agent does.
 */
import { browse, CookieJar, mcpCall, parseForms, toolCallBody, type ParsedForm } from './oauth-flow.js';

/** What our own page's form POST sends besides the body (Fetch Metadata, Origin). */
const sameOrigin = (url: string) => ({
  'content-type': 'application/x-www-form-urlencoded',
  origin: new URL(url).origin,
  'sec-fetch-site': 'same-origin',
});

/** Signs `username` in to /connections; the jar then holds the browser session cookie. */
export async function signInToConsole(base: string, username: string, jar = new CookieJar()): Promise<CookieJar> {
  const start = `${base}/connections/sign-in`;
  const res = await fetch(start, { method: 'POST', redirect: 'manual', headers: sameOrigin(start), body: '' });
  jar.store(start, res);
  const rally = res.headers.get('location');
  if (res.status !== 303 || !rally) throw new Error(`sign-in did not start: ${res.status}`);
  const done = await browse(rally, { username, jar, stopAt: `${base}/connections` });
  if (done.status !== 0) throw new Error(`console sign-in did not finish: ${done.steps.join(', ')}`);
  return jar;
}

export interface ConsolePage {
  readonly status: number;
  readonly body: string;
  readonly forms: ParsedForm[];
  form(action: string, tokenId?: string): ParsedForm;
}

export async function openConsole(base: string, jar: CookieJar): Promise<ConsolePage> {
  const url = `${base}/connections`;
  const cookie = jar.header(url);
  const res = await fetch(url, { headers: cookie ? { cookie } : {} });
  const body = await res.text();
  const forms = parseForms(body, url);
  return {
    status: res.status,
    body,
    forms,
    form(action, tokenId) {
      const f = forms.find(
        (x) => x.action === `${base}${action}` && (tokenId === undefined || x.fields.token_id === tokenId),
      );
      if (!f) throw new Error(`no form ${action} on the page (${res.status})`);
      return f;
    },
  };
}

/** Posts a form of ours with `fields` (the page's hidden fields plus what the user typed). */
export async function postForm(
  url: string,
  jar: CookieJar | undefined,
  fields: Record<string, string | readonly string[]>,
  headers: Record<string, string> = sameOrigin(url),
): Promise<{ status: number; body: string; location: string | null }> {
  const cookie = jar?.header(url);
  const res = await fetch(url, {
    method: 'POST',
    redirect: 'manual',
    headers: { ...headers, ...(cookie ? { cookie } : {}) },
    body: new URLSearchParams(
      Object.entries(fields).flatMap(([k, v]) => (typeof v === 'string' ? [[k, v]] : v.map((x) => [k, x]))),
    ).toString(),
  });
  jar?.store(url, res);
  return { status: res.status, body: await res.text(), location: res.headers.get('location') };
}

export const TOKEN_SHAPE = /rmcp_ct_[0-9a-f]{20}_[A-Za-z0-9_-]{43}/;

export interface CreateOptions {
  readonly name?: string;
  readonly days?: number;
  readonly write?: boolean;
  readonly tools?: string;
  /** Project names as the page lists them (ticked by label), or raw values to post as they are. */
  readonly projects?: readonly string[];
  readonly rawProjects?: readonly string[];
}

/** Creates a token from a fresh console page; returns it and the page that showed it. */
export async function createToken(
  base: string,
  jar: CookieJar,
  o: CreateOptions = {},
): Promise<{ token: string; id: string; page: string }> {
  const page = await openConsole(base, jar);
  const form = page.form('/connections/create');
  const ticked = (o.projects ?? []).map((name) => {
    const box = form.checkboxes.find((c) => c.name === 'projects' && c.label === name);
    if (!box) throw new Error(`no project ${name} on the page`);
    return box.value;
  });
  const projects = [...ticked, ...(o.rawProjects ?? [])];
  const res = await postForm(form.action, jar, {
    ...form.fields,
    ...(projects.length ? { projects } : {}),
    name: o.name ?? 'Copilot coding agent: acme/web',
    ...(o.days !== undefined ? { days: String(o.days) } : { days: '30' }),
    ...(o.write ? { write: 'on' } : {}),
    ...(o.tools !== undefined ? { tools: o.tools } : {}),
  });
  const token = TOKEN_SHAPE.exec(res.body)?.[0];
  if (res.status !== 200 || !token) throw new Error(`no token created: ${res.status}`);
  return { token, id: token.slice('rmcp_ct_'.length, 'rmcp_ct_'.length + 20), page: res.body };
}

/** tools/call with only static headers (no OAuth code): the Copilot coding agent's way. */
export function callWithHeaders(base: string, headers: Record<string, string>, tool: string, args = {}) {
  return mcpCall(`${base}/mcp`, toolCallBody(tool, args), headers);
}
