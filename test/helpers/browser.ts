/**
 * Headless Chromium for tests through playwright-core (the bundled Chromium of
 * @sparticuz/chromium on Linux x64, else a system one: scripts/preflight.mjs
 * finds it), and a helper that completes the Rally sandbox sign-in in a page.
 */
import { chromium, type Browser, type Page } from 'playwright-core';
import { findBrowser } from '../../scripts/preflight.mjs';

/** Flags that keep Chromium offline except for the pages a test opens. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-quic',
  '--disable-sync',
] as const;

/** A fresh headless browser; every context it creates is incognito-like (no shared profile). Close it in afterAll. */
export async function launchBrowser(): Promise<Browser> {
  const browser = await findBrowser();
  if (!('executable' in browser))
    throw new Error('problem' in browser ? browser.problem : `${browser.missingPackage} is missing: run npm install`);
  return chromium.launch({ executablePath: browser.executable, args: [...CHROMIUM_ARGS] });
}

export interface SignInOptions {
  /** Defaults to the user name (the sandbox's demo convention). */
  readonly password?: string;
  /** How long to wait for each page step (ms). */
  readonly timeoutMs?: number;
}

/**
 * Fills the sandbox sign-in form on `page` (already at the authorize URL),
 * clicks Allow if the consent page appears (it does not with autoApprove),
 * and waits until the browser has left the sandbox's /login/oauth2 pages.
 * Throws with the page's error text if sign-in fails.
 */
export async function signInToRallySandbox(page: Page, username: string, options: SignInOptions = {}): Promise<void> {
  const timeout = options.timeoutMs ?? 15_000;
  const origin = new URL(page.url()).origin;
  const leftSignIn = (u: URL) => u.origin !== origin || !u.pathname.startsWith('/login/oauth2/');
  await page.locator('input[name="username"]').fill(username, { timeout });
  await page.locator('input[name="password"]').fill(options.password ?? username, { timeout });
  await page.locator('button[type="submit"]').first().click({ timeout });
  const allow = page.locator('button', { hasText: 'Allow' }).first();
  const alert = page.locator('[role="alert"]').first();
  // Exactly one of three pages follows: consent, the redirect target (autoApprove), or the form with an error.
  const next = await Promise.race(
    [
      allow.waitFor({ state: 'visible', timeout }).then(() => 'consent' as const),
      page.waitForURL(leftSignIn, { timeout, waitUntil: 'commit' }).then(() => 'away' as const),
      alert.waitFor({ state: 'visible', timeout }).then(() => 'error' as const),
    ].map((p) => p.catch(() => 'timeout' as const)),
  );
  if (next === 'away') return;
  if (next !== 'consent') {
    const text = await alert.textContent({ timeout: 1000 }).catch(() => null);
    throw new Error(`Rally sandbox sign-in failed for ${username}: ${text ?? next}`);
  }
  await allow.click({ timeout });
  await page.waitForURL(leftSignIn, { timeout, waitUntil: 'commit' });
}
