/**
 * A stand-in for a Cloud Run secret volume that counts reads: each
 * `<dir>/<name>/<version>` is a FIFO fed by a shell loop, so every read of the
 * file is served once and counted, as every read of a mounted secret is one
 * Secret Manager access. For tests and benchmarks of SECRET_SOURCE=mounted.
 * @module
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killGroup, spawnGroup } from './process-utils.js';

export interface SecretVolumeStandin {
  /** The mount path: SECRETS_DIR for the server. */
  readonly dir: string;
  /** How many times the server has read `<name>/<version>`. */
  reads(name: string, version: string): number;
  stop(): Promise<void>;
}

/** Serves `<sourceDir>/<name>/<version>` for each ref, counting reads. */
export function startSecretVolumeStandin(
  sourceDir: string,
  refs: ReadonlyArray<readonly [name: string, version: string]>,
): SecretVolumeStandin {
  const dir = mkdtempSync(join(tmpdir(), 'rally-mcp-volume-'));
  const counts = mkdtempSync(join(tmpdir(), 'rally-mcp-volume-reads-'));
  const args: string[] = [];
  for (const [name, version] of refs) {
    mkdirSync(join(dir, name), { recursive: true });
    const fifo = join(dir, name, version);
    execFileSync('mkfifo', ['-m', '600', fifo]);
    args.push(join(sourceDir, name, version), fifo, join(counts, `${name}.${version}`));
  }
  // Per file: `cat > fifo` blocks until a reader opens it, then counts the read. The pause lets that
  // reader see EOF before the next feed opens the pipe again (an early writer would append a second copy).
  const feed =
    'while [ $# -gt 0 ]; do (src=$1 fifo=$2 count=$3; while :; do cat "$src" > "$fifo" && echo >> "$count"; sleep 0.2; done) & shift 3; done; wait';
  const child: ChildProcess = spawnGroup('bash', ['-c', feed, 'secret-volume', ...args], { stdio: 'ignore' });
  return {
    dir,
    reads(name, version) {
      try {
        return readFileSync(join(counts, `${name}.${version}`), 'utf8').split('\n').length - 1;
      } catch {
        return 0;
      }
    },
    async stop() {
      await killGroup(child, 500);
      rmSync(dir, { recursive: true, force: true });
      rmSync(counts, { recursive: true, force: true });
    },
  };
}
