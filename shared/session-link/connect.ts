/**
 * The /connect/<id> page: where a user (re)connects an upstream provider after a tool said
 * "Rally is not connected" (or "GitHub is not connected"). GET shows who asked, for which
 * provider, when, and a verification code to compare with the chat; POST (same-origin only)
 * consumes the link and sends the browser to the primary provider (Rally) with a fresh state +
 * PKCE pair: for a re-link that is the sign-in itself; for another provider (kind `connect`,
 * issue 19) it proves whose browser this is first, and the callback then continues to that
 * provider (R2).
 * @module
 */
import { randomInt } from 'node:crypto';
import type { Request, Response } from '@google-cloud/functions-framework';
import { publicUrls } from '../config/config.js';
import type { Deps } from '../services/deps.js';
import { addSeconds } from '../kernel/clock.js';
import { randomToken, sha256Id } from '../kernel/hash.js';
import { html, sendPage } from '../http/pages.js';
import { sendRefusalPage } from '../http/page-errors.js';
import { redirectToProvider, type SignInDeps } from '../upstream-link/sign-in.js';
import { PRIMARY_PROVIDER, providerOf, type UpstreamProviderId, type UpstreamProviders } from '../upstream/provider.js';
import { isSameOriginPost } from '../http/origin.js';
import {
  consumeConnectTransaction,
  createConnectTransaction,
  findConnectTransaction,
  type ConnectTransaction,
} from '../store/connect-transactions.repo.js';
import { isGrantActive } from '../store/grants.repo.js';

const CONNECT_TTL_SECONDS = 600;

/** What creating a connect link uses. */
export type ConnectLinkDeps = Pick<Deps, 'config' | 'clock' | 'db' | 'limitAddress'>;

/** What the /connect/<id> page uses: its records, and the start of a sign-in. */
export type ConnectPageDeps = Pick<Deps, 'config' | 'clock' | 'db' | 'audit'> & SignInDeps;

/** A readable code like "K7Q-4MZ" (no 0/O/1/I). */
export function verificationCode(): string {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  const pick = () => alphabet[randomInt(alphabet.length)];
  return `${pick()}${pick()}${pick()}-${pick()}${pick()}${pick()}`;
}

export interface ConnectLink {
  readonly url: string;
  readonly elicitationId: string;
  readonly verificationCode: string;
}

export type ConnectFor =
  | { readonly kind: 'relink'; readonly grantId: string; readonly sub: string; readonly clientName: string }
  /** Issue 19: a provider other than the primary, linked to the grant on demand. */
  | {
      readonly kind: 'connect';
      readonly provider: UpstreamProviderId;
      readonly grantId: string;
      readonly sub: string;
      readonly clientName: string;
    }
  | { readonly kind: 'session'; readonly sessionHash: string; readonly clientName: string };

/** Creates a single-use connect link. The URL holds only an opaque id: no session value, token or PII (A3). */
export async function createConnectLink(
  deps: ConnectLinkDeps,
  target: ConnectFor,
  agentId: string | undefined,
): Promise<ConnectLink> {
  deps.limitAddress('connect_link'); // L20: any unlinked session id can ask for one (AddressThrottledError)
  const id = randomToken(32);
  const now = deps.clock.now();
  const code = verificationCode();
  const db = await deps.db();
  await createConnectTransaction(db, id, {
    ...target,
    ...(agentId ? { agentId } : {}),
    verificationCode: code,
    createdAt: now,
    expiresAt: addSeconds(now, CONNECT_TTL_SECONDS),
  });
  return {
    url: `${publicUrls(deps.config).issuer}/connect/${id}`,
    elicitationId: sha256Id(`elicitation:${id}`).slice(0, 32),
    verificationCode: code,
  };
}

export async function handleConnect(deps: ConnectPageDeps, req: Request, res: Response): Promise<void> {
  const id = req.path.slice('/connect/'.length);
  const now = deps.clock.now();
  const db = await deps.db();
  // A re-link for a grant revoked since the link was handed out is dead too (L2). This only spares
  // the user a pointless Rally sign-in: the callback's storing transaction is what enforces it.
  const { providers } = await deps.auth();
  const isLive = async (tx: ConnectTransaction | undefined): Promise<boolean> =>
    tx !== undefined &&
    providers.get(providerOf(tx.provider)) !== undefined && // a provider turned off since: nothing to connect
    (tx.kind === 'session' || (tx.grantId !== undefined && (await isGrantActive(db, tx.grantId, now))));
  const expired = () => sendRefusalPage(res, { code: 'connect_link_expired' });
  if (req.method === 'GET') {
    const tx = await findConnectTransaction(db, id, now);
    if (!tx || !(await isLive(tx))) return expired();
    return renderConnectPage(res, id, tx, providers);
  }
  if (!isSameOriginPost(req, publicUrls(deps.config).issuer)) {
    return sendRefusalPage(res, { code: 'connect_not_same_origin' });
  }
  const tx = await consumeConnectTransaction(db, id, now);
  if (!tx || !(await isLive(tx))) return expired();
  const provider = providerOf(tx.provider);
  if ((req.body as { decision?: unknown } | undefined)?.decision !== 'continue') {
    deps.audit('sign_in_failed', { outcome: 'denied', reason: 'cancelled', mode: tx.kind, provider });
    return sendPage(res, 200, 'Cancelled', html`<h1>Nothing was connected</h1><p>You can close this window.</p>`);
  }
  deps.audit('sign_in_started', { mode: tx.kind, provider });
  // Always the primary first: for `connect`, the callback checks who signed in, then goes on to `provider`.
  await redirectToProvider(deps, res, PRIMARY_PROVIDER, {
    kind: tx.kind,
    clientName: tx.clientName,
    ...(tx.kind === 'connect' ? { connects: provider } : {}),
    ...(tx.grantId ? { grantId: tx.grantId } : {}),
    ...(tx.sub ? { sub: tx.sub } : {}),
    ...(tx.sessionHash ? { sessionHash: tx.sessionHash } : {}),
  });
}

function renderConnectPage(res: Response, id: string, tx: ConnectTransaction, providers: UpstreamProviders): void {
  const started = tx.createdAt.toISOString().replace('T', ' ').slice(0, 19);
  const primary = providers.primary;
  const name = providers.get(providerOf(tx.provider))?.displayName ?? primary.displayName;
  const viaPrimary = tx.kind === 'connect';
  sendPage(
    res,
    200,
    `Connect ${name}`,
    html`<h1>Connect your ${name} account</h1>
<p>An agent asked to use ${name} on your behalf.</p>
<dl><dt>Requested by</dt><dd>${tx.clientName}</dd>${tx.agentId ? html`<dt>Agent</dt><dd>${tx.agentId}</dd>` : ''}
<dt>Requested at</dt><dd>${started} UTC</dd>
<dt>Verification code</dt><dd><span class="code">${tx.verificationCode}</span></dd></dl>
<p class="warn">Continue only if <strong>your own</strong> chat shows this same code and you asked for this just now. If someone sent you this link, close this page: continuing would give them access to your ${name} account.</p>
${viaPrimary ? html`<p>You first sign in to ${primary.displayName}, to confirm it is you, then to ${name}.</p>` : ''}
<form method="post" action="/connect/${id}"><div class="actions">
<button class="secondary" type="submit" name="decision" value="cancel">Cancel</button>
<button class="primary" type="submit" name="decision" value="continue">The codes match — continue to ${primary.displayName}</button></div></form>
<p class="muted">This link works once and expires 10 minutes after it was created.</p>`,
    [primary.authorizeOrigin],
  );
}
