// Types for scripts/preflight.mjs (plain JavaScript so that it runs before `npm install`).

export interface PreflightOptions {
  readonly root?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly nodeVersion?: string;
  readonly platform?: NodeJS.Platform;
  readonly arch?: string;
  /** Called once before the bundled Chromium is unpacked (a few seconds, first use only). */
  readonly onUnpack?: (executable: string) => void;
}

export interface BundledChromium {
  readonly packed: string;
  readonly executable: string;
}

export type BrowserLookup =
  | { readonly executable: string; readonly label: string; readonly bundled?: true }
  | { readonly problem: string }
  | { readonly missingPackage: string };

export function which(cmd: string, env?: NodeJS.ProcessEnv): string | undefined;
export function bundledChromium(root?: string): BundledChromium | undefined;
export function unpackChromium(bundled: BundledChromium, onUnpack?: (executable: string) => void): Promise<string>;
export function findBrowser(options?: Omit<PreflightOptions, 'nodeVersion'>): Promise<BrowserLookup>;
export function emulatorProblems(env?: NodeJS.ProcessEnv, platform?: NodeJS.Platform): string[];
export function preflight(
  mode: 'start' | 'test',
  options?: PreflightOptions,
): Promise<{ problems: string[]; found: string[] }>;
