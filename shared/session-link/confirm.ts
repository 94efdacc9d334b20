/**
 * Session-link mode: finishing a sign-in. The callback holds the Rally
 * tokens pending (sealed) until the code shown in the browser is submitted
 * over the originating session (C3–C5); a session linked to one Rally user
 * is never switched to another (C7). Sessions link the primary provider (Rally) only.
 * @module
 */
import { randomInt } from 'node:crypto';
import type { Response } from '@google-cloud/functions-framework';
import type { Deps } from '../services/deps.js';
import type { AuthServices } from '../services/auth-services.js';
import { html, sendPage } from '../http/pages.js';
import { sendRefusalPage } from '../http/page-errors.js';
import type { LinkTransaction } from '../store/link-transactions.repo.js';
import { LinkUserMismatchError } from '../upstream-link/errors.js';
import { rallyUserOf, sessionPrincipal, upstreamUserOf } from '../store/upstream-tokens.repo.js';
import type { UpstreamTokens, UpstreamUser } from '../upstream/provider.js';
import { PENDING_TOKENS } from '../upstream-link/token-codec.js';
import { confirmPendingLink, pendingBinding, storePendingLink, type ConfirmResult } from '../store/sessions.repo.js';

const PENDING_TTL_SECONDS = 600;

/** What finishing and confirming a session link uses (the instance's services satisfy it). */
export interface SessionLinkDeps extends Pick<Deps, 'clock' | 'db' | 'audit'> {
  auth(): Promise<Pick<AuthServices, 'sealer' | 'tokenStore'>>;
}

export async function completeSessionLink(
  deps: SessionLinkDeps,
  res: Response,
  tx: LinkTransaction,
  tokens: UpstreamTokens,
  user: UpstreamUser,
): Promise<void> {
  const auth = await deps.auth();
  const sessionHash = tx.sessionHash;
  if (!sessionHash) throw new Error('session link transaction without session');
  const rallyUser = rallyUserOf(user);
  const existing = await auth.tokenStore('rally').read(sessionPrincipal(sessionHash));
  if (existing && existing.user.id !== user.id) {
    deps.audit('access_denied', { reason: 'different_rally_user', mode: 'session', provider: 'rally' });
    sendRefusalPage(res, { code: 'session_different_user' });
    return;
  }
  const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
  const sealed = await PENDING_TOKENS.seal(auth.sealer, tokens, pendingBinding(sessionHash));
  await storePendingLink(
    await deps.db(),
    sessionHash,
    { sealed, rallyUser, code, ttlSeconds: PENDING_TTL_SECONDS },
    deps.clock.now(),
  );
  deps.audit('sign_in_completed', { provider: 'rally', rallyUser: rallyUser.userName, mode: 'session_pending' });
  const shown = `${code.slice(0, 3)} ${code.slice(3)}`;
  sendPage(
    res,
    200,
    'Rally is connected',
    html`<h1>Rally is connected.</h1>
<p>One last step: return to your agent and give it this confirmation code. You can then close this window.</p>
<p><span class="code">${shown}</span></p>
<p class="warn">Type this code only into <strong>your own</strong> agent chat. Never give it to anyone else: it unlocks your Rally account for the chat that receives it.</p>
<p class="muted">The code expires in 10 minutes. To see every application that can use Rally as you, open <a href="/account">Your access</a>.</p>`,
  );
}

export type ConfirmOutcome = ConfirmResult | { ok: false; reason: 'different_user' };

/** The code, submitted over the session that started the sign-in, activates the pending tokens. */
export async function confirmSessionLink(
  deps: SessionLinkDeps,
  sessionHash: string,
  code: string,
): Promise<ConfirmOutcome> {
  const auth = await deps.auth();
  const digits = code.replace(/\D/g, '');
  const result = await confirmPendingLink(await deps.db(), sessionHash, digits, deps.clock.now());
  if (!result.ok) {
    deps.audit('access_denied', { reason: `confirmation_${result.reason}`, mode: 'session' }); // C4: every miss, and the lock-out, is logged
    return result;
  }
  const pending = await PENDING_TOKENS.open(auth.sealer, result.sealed, pendingBinding(sessionHash));
  try {
    await auth
      .tokenStore('rally')
      .link(sessionPrincipal(sessionHash), 'session', pending.value, upstreamUserOf(result.rallyUser));
  } catch (err) {
    if (err instanceof LinkUserMismatchError) return { ok: false, reason: 'different_user' };
    throw err;
  }
  deps.audit('session_linked', { provider: 'rally', rallyUser: result.rallyUser.userName });
  return result;
}
