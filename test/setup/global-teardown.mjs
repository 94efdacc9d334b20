// Stops the emulator, then scans every server log line of the whole run for
// anything shaped like a secret (K1): a JWT or JWE, a bearer or ZSESSIONID
// header, a connection token (rmcp_ct_…), a binding cookie, OAuth secrets in a query or form. Fails the run if found.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SERVER_LOG_DIR } from './global-setup.mjs';

const SECRET_SHAPES = [
  ['JWT', /eyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]{16,}/],
  ['JWE', /eyJ[\w-]{8,}\.[\w-]{20,}\.[\w-]{10,}\.[\w-]{10,}\.[\w-]{10,}/],
  ['bearer', /bearer\s+[\w-]{16,}/i],
  ['ZSESSIONID', /zsessionid/i],
  ['connection token', /rmcp_ct_[0-9a-f]{20}_[\w-]{8,}/],
  ['cookie', /__Host-rally-mcp-tx=|__session=/],
  ['oauth param', /(client_secret|code_verifier|refresh_token|access_token)=[\w-]/],
];

export default async function globalTeardown() {
  await globalThis.__FIRESTORE_EMULATOR__?.stop();
  if (!existsSync(SERVER_LOG_DIR)) return;
  const findings = [];
  let lines = 0;
  for (const file of readdirSync(SERVER_LOG_DIR)) {
    for (const line of readFileSync(join(SERVER_LOG_DIR, file), 'utf8').split('\n')) {
      lines++;
      for (const [name, re] of SECRET_SHAPES)
        if (re.test(line)) findings.push(`${name} in ${file}: ${line.slice(0, 160)}…`);
    }
  }
  if (findings.length)
    throw new Error(
      `K1: ${findings.length} server log line(s) look like they contain a secret:\n${findings.slice(0, 10).join('\n')}`,
    );
  process.stdout.write(`\nK1: scanned ${lines} server log lines of this run: no secret-shaped values.\n`);
}
