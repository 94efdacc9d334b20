/**
 * HTML of the sandbox's web origin: the sign-in form, the "Authorize <app>"
 * page, error pages and the plain pages behind `html_url` links. Sandbox pages,
 * loosely styled like GitHub's; inline CSS only, no external resources.
 * @module
 */

export function escapeHtml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );
}

const CSS = `
*{box-sizing:border-box}
body{margin:0;font-family:-apple-system,BlinkMacSystemFont,"Segoe UI",Helvetica,Arial,sans-serif;background:#f6f8fa;color:#1f2328;font-size:14px}
header{background:#24292f;color:#fff;height:60px;display:flex;align-items:center;padding:0 24px;gap:12px}
.logo{font-weight:600;font-size:20px}
.badge{font-size:11px;font-weight:600;text-transform:uppercase;letter-spacing:1px;background:#bf8700;color:#fff;padding:2px 8px;border-radius:10px}
main{display:flex;justify-content:center;padding:40px 16px}
.card{background:#fff;width:100%;max-width:340px;border:1px solid #d0d7de;border-radius:6px;padding:20px}
.card.wide{max-width:520px}
h1{font-size:24px;font-weight:300;text-align:center;margin:0 0 16px}
label{display:block;font-weight:400;margin:12px 0 6px}
input[type=text],input[type=password]{width:100%;padding:5px 12px;font-size:14px;line-height:20px;border:1px solid #d0d7de;border-radius:6px}
.actions{display:flex;gap:8px;margin-top:20px}
button{flex:1;padding:5px 16px;font-size:14px;font-weight:500;line-height:20px;border-radius:6px;cursor:pointer;border:1px solid rgba(31,35,40,.15)}
.primary{background:#1f883d;color:#fff}
.secondary{background:#f6f8fa;color:#24292f}
.error{background:#ffebe9;border:1px solid rgba(255,129,130,.4);color:#1f2328;padding:12px 16px;border-radius:6px;margin-bottom:12px}
.perms{margin:12px 0;padding-left:20px;line-height:1.8}
.meta{color:#59636e;font-size:12px;word-break:break-all}
.foot{margin-top:16px;font-size:12px;color:#59636e;text-align:center}
pre{white-space:pre-wrap;word-break:break-word;background:#f6f8fa;padding:12px;border-radius:6px}
`;

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)}</title><style>${CSS}</style></head>
<body><header><span class="logo">GitHub</span><span class="badge">Sandbox</span></header>
<main>${body}</main></body></html>`;
}

export interface SignInView {
  readonly tx: string;
  readonly username?: string;
  readonly error?: string;
}

/** A sandbox form: GitHub's own posts `login`/`password` to /session; ours keeps `username` for the test helpers. */
export function signInPage(v: SignInView): string {
  return layout(
    'Sign in to GitHub · GitHub',
    `<div class="card">
<h1>Sign in to GitHub</h1>
${v.error ? `<div class="error" role="alert">${escapeHtml(v.error)}</div>` : ''}
<form method="post" action="/login/oauth/authorize/signin">
<input type="hidden" name="tx" value="${escapeHtml(v.tx)}">
<label for="username">Username or email address</label>
<input type="text" id="username" name="username" autocomplete="username" value="${escapeHtml(v.username ?? '')}"${v.username ? '' : ' autofocus'} required>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password"${v.username ? ' autofocus' : ''} required>
<div class="actions"><button type="submit" class="primary">Sign in</button></div>
</form>
<p class="foot">Development sandbox &middot; demo users sign in with their user name as password</p>
</div>`,
  );
}

export interface AuthorizeView {
  readonly tx: string;
  readonly appName: string;
  readonly login: string;
  readonly name: string;
  readonly redirectUri: string;
  /** OAuth App scopes requested; undefined for a GitHub App (which shows permissions instead). */
  readonly scopes: readonly string[] | undefined;
}

const SCOPE_TEXT: Readonly<Record<string, string>> = {
  repo: 'Full control of private repositories',
  public_repo: 'Access public repositories',
  'repo:status': 'Access commit status',
  'read:user': 'Read all user profile data',
  'user:email': 'Access user email addresses (read-only)',
  user: 'Update ALL user data',
  'read:org': 'Read org and team membership',
};

export function authorizePage(v: AuthorizeView): string {
  let host = v.redirectUri;
  try {
    host = new URL(v.redirectUri).host;
  } catch {
    // keep the raw value
  }
  const perms =
    v.scopes === undefined
      ? '<li>Verify your GitHub identity</li><li>Know which resources you can access</li><li>Act on your behalf</li>'
      : v.scopes.length === 0
        ? '<li>Public information only (read-only)</li>'
        : v.scopes
            .map((s) => `<li>${escapeHtml(SCOPE_TEXT[s] ?? s)} <span class="meta">(${escapeHtml(s)})</span></li>`)
            .join('');
  return layout(
    `Authorize application`,
    `<div class="card wide">
<h1>Authorize ${escapeHtml(v.appName)}</h1>
<p><strong>${escapeHtml(v.appName)}</strong> wants to access your <strong>${escapeHtml(v.login)}</strong> account (${escapeHtml(v.name)}).</p>
<ul class="perms">${perms}</ul>
<form method="post" action="/login/oauth/authorize/decision">
<input type="hidden" name="tx" value="${escapeHtml(v.tx)}">
<div class="actions">
<button type="submit" name="decision" value="deny" class="secondary">Cancel</button>
<button type="submit" name="decision" value="allow" class="primary">Authorize ${escapeHtml(v.appName)}</button>
</div></form>
<p class="foot">Authorizing will redirect to <span class="meta">${escapeHtml(host)}</span></p>
</div>`,
  );
}

export function errorPage(title: string, message: string): string {
  return layout(
    `${title} · GitHub`,
    `<div class="card wide"><h1>${escapeHtml(title)}</h1>
<div class="error" role="alert">${escapeHtml(message)}</div></div>`,
  );
}

/** GitHub's web 404 ("This is not the web page you are looking for"), in the sandbox's look. */
export const notFoundPage = (): string => errorPage('Page not found', 'This is not the web page you are looking for.');

/** The page behind a pull request's or commit's `html_url` (public repositories only: the web origin has no session). */
export function itemPage(heading: string, title: string, body: string | null): string {
  return layout(
    `${title} · GitHub`,
    `<div class="card wide"><p class="meta">${escapeHtml(heading)}</p><h1>${escapeHtml(title)}</h1>
${body ? `<pre>${escapeHtml(body)}</pre>` : ''}</div>`,
  );
}
