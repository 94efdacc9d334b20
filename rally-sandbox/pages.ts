/**
 * HTML for the sandbox's sign-in, "Allow Access" and error pages, plus the
 * Jetty error pages WSAPI returns. Inline CSS only; no external resources.
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
body{margin:0;font-family:"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;background:#eef1f5;color:#1f2a37;font-size:15px}
header{background:#0b1f3a;color:#fff;height:56px;display:flex;align-items:center;padding:0 24px;box-shadow:0 1px 3px rgba(0,0,0,.25)}
.logo{display:flex;align-items:center;gap:10px;font-weight:700;font-size:22px;letter-spacing:.3px}
.mark{width:28px;height:28px;border-radius:6px;background:linear-gradient(135deg,#1aa0e8,#0066b3);display:flex;align-items:center;justify-content:center;font-size:17px}
.badge{margin-left:12px;font-size:11px;font-weight:600;text-transform:uppercase;letter-spacing:1px;background:#f5a623;color:#0b1f3a;padding:3px 8px;border-radius:10px}
main{display:flex;justify-content:center;padding:56px 16px}
.card{background:#fff;width:100%;max-width:420px;border-radius:8px;box-shadow:0 2px 12px rgba(11,31,58,.12);padding:32px 36px}
.card.wide{max-width:520px}
h1{font-size:22px;margin:0 0 6px;font-weight:600;color:#0b1f3a}
.sub{color:#5b6777;margin:0 0 24px;line-height:1.45}
label{display:block;font-weight:600;font-size:13px;margin:16px 0 6px;color:#33404f}
input[type=text],input[type=password]{width:100%;padding:10px 12px;border:1px solid #c3cad4;border-radius:4px;font-size:15px}
input:focus{outline:none;border-color:#0071c5;box-shadow:0 0 0 3px rgba(0,113,197,.18)}
.actions{display:flex;gap:12px;margin-top:26px}
button{flex:1;padding:11px 16px;border-radius:4px;font-size:15px;font-weight:600;cursor:pointer;border:1px solid transparent}
.primary{background:#0071c5;color:#fff}
.primary:hover{background:#005a9e}
.secondary{background:#fff;color:#33404f;border-color:#c3cad4}
.secondary:hover{background:#f3f5f8}
.error{background:#fdecec;border:1px solid #f3b7b7;color:#9b1c1c;padding:10px 12px;border-radius:4px;margin-bottom:8px}
.app{display:flex;gap:14px;align-items:center;background:#f6f8fb;border:1px solid #e1e6ed;border-radius:6px;padding:14px;margin-bottom:18px}
.app .icon{width:40px;height:40px;border-radius:8px;background:#0b1f3a;color:#fff;display:flex;align-items:center;justify-content:center;font-weight:700}
.app .meta{font-size:13px;color:#5b6777;word-break:break-all}
ul.perms{margin:0 0 8px;padding-left:20px;line-height:1.7}
.card.notice h1{margin-bottom:14px}
.card.notice .sub{margin:14px 0 0}
.foot{margin-top:22px;font-size:12px;color:#7a8594;text-align:center}
code{background:#eef1f5;padding:1px 5px;border-radius:3px;font-size:13px}
`;

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)}</title><style>${CSS}</style></head>
<body><header><div class="logo"><div class="mark">R</div>rally</div><span class="badge">Sandbox</span></header>
<main>${body}</main></body></html>`;
}

export interface SignInView {
  readonly tx: string;
  readonly username?: string;
  readonly error?: string;
}

export function signInPage(v: SignInView): string {
  return layout(
    'Sign in - Rally',
    `<div class="card">
<h1>Sign in to Rally</h1>
<p class="sub">An application is requesting access to your Rally account.</p>
${v.error ? `<div class="error" role="alert">${escapeHtml(v.error)}</div>` : ''}
<form method="post" action="/login/oauth2/auth/signin">
<input type="hidden" name="tx" value="${escapeHtml(v.tx)}">
<label for="username">Username</label>
<input type="text" id="username" name="username" autocomplete="username" value="${escapeHtml(v.username ?? '')}"${v.username ? '' : ' autofocus'} required>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password"${v.username ? ' autofocus' : ''} required>
<div class="actions"><button type="submit" class="primary">Sign In</button></div>
</form>
<p class="foot">Development sandbox &middot; demo users sign in with their user name as password</p>
</div>`,
  );
}

export interface ConsentView {
  readonly tx: string;
  readonly displayName: string;
  readonly userName: string;
  readonly clientId: string;
  readonly redirectUri: string;
}

export function consentPage(v: ConsentView): string {
  let host = v.redirectUri;
  try {
    host = new URL(v.redirectUri).host;
  } catch {
    // keep the raw value
  }
  return layout(
    'Authorization Request - Rally',
    `<div class="card wide">
<h1>Authorization Request</h1>
<p class="sub">Signed in as <strong>${escapeHtml(v.displayName)}</strong> (${escapeHtml(v.userName)})</p>
<div class="app"><div class="icon">&#x2197;</div><div><strong>${escapeHtml(host)}</strong>
<div class="meta">Client ID <code>${escapeHtml(v.clientId)}</code></div></div></div>
<p>This application would like to:</p>
<ul class="perms"><li>Read and update work items in Rally on your behalf</li><li>Act with your Rally permissions until you revoke access</li></ul>
<form method="post" action="/login/oauth2/auth/consent">
<input type="hidden" name="tx" value="${escapeHtml(v.tx)}">
<div class="actions">
<button type="submit" name="decision" value="deny" class="secondary">Deny</button>
<button type="submit" name="decision" value="allow" class="primary">Allow Access</button>
</div></form>
<p class="foot">You can revoke access later under My Settings &rarr; Authorized Applications.</p>
</div>`,
  );
}

export function errorPage(title: string, message: string): string {
  return layout(
    `${title} - Rally`,
    `<div class="card notice"><h1>${escapeHtml(title)}</h1>
<div class="error" role="alert">${escapeHtml(message)}</div>
<p class="sub">The application that sent you here is misconfigured. No information was shared with it.</p></div>`,
  );
}

/** Jetty's error page, as Rally's WSAPI sends it for 401/403/404 (rally-api.md §3.7). */
export function jettyPage(status: number, reason: string, path: string): string {
  return `<html>
<head>
<meta http-equiv="Content-Type" content="text/html;charset=ISO-8859-1"/>
<title>Error ${status} ${escapeHtml(reason)}</title>
</head>
<body><h2>HTTP ERROR ${status}</h2>
<p>Problem accessing ${escapeHtml(path)}. Reason:
<pre>    ${escapeHtml(reason)}</pre></p><hr><a href="http://eclipse.org/jetty">Powered by Jetty://</a><hr/>
</body>
</html>
`;
}
