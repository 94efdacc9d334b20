/**
 * Runs deploy.sh in a child process and splits its printed command list
 * into argument vectors (the script single-quotes words, POSIX style).
 * @module
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '');
export const DEPLOY_SH = `${REPO_ROOT}/deploy.sh`;
/** Keeps a developer's own deploy.env out of the tests. */
export const NO_ENV_FILE = ['--env-file', '/nonexistent/deploy.env'];

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function runDeploy(
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [DEPLOY_SH, ...args], {
      cwd: REPO_ROOT,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** One printed command line: its words, split at the shell operators |, <, && into segments. */
export interface PrintedCommand {
  readonly line: string;
  readonly segments: readonly (readonly string[])[];
  readonly comment: string | undefined;
}

/** Splits a `+ …` line the way bash would for the quoting deploy.sh uses. */
export function splitWords(text: string): { words: string[]; comment: string | undefined } {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unterminated quote in: ${text}`);
      cur += text.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (ch === '\\' && i + 1 < text.length) {
      cur += text[i + 1];
      inWord = true;
      i++;
    } else if (ch === ' ' || ch === '\t') {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else if (ch === '#' && !inWord) {
      if (inWord) words.push(cur);
      return { words, comment: text.slice(i + 1).trim() };
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  return { words, comment: undefined };
}

export function parseCommands(stdout: string): PrintedCommand[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('+ '))
    .map((line) => {
      const { words, comment } = splitWords(line.slice(2));
      const segments: string[][] = [[]];
      for (const w of words) {
        if (w === '|' || w === '&&') segments.push([]);
        else segments[segments.length - 1]!.push(w);
      }
      // `cmd < file`: drop the redirection from the argument vector.
      const cleaned = segments.map((s) => {
        const lt = s.indexOf('<');
        return lt >= 0 ? s.slice(0, lt) : s;
      });
      return { line, segments: cleaned, comment };
    });
}

/** Every gcloud argument vector (without the leading "gcloud"). */
export function gcloudCalls(commands: readonly PrintedCommand[]): string[][] {
  return commands.flatMap((c) => c.segments.filter((s) => s[0] === 'gcloud').map((s) => s.slice(1)));
}

/** `--name=value` of an argument vector. */
export function flag(argv: readonly string[], name: string): string | undefined {
  const hit = argv.find((a) => a.startsWith(`--${name}=`));
  return hit?.slice(name.length + 3);
}
