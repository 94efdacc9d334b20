#!/usr/bin/env node
// Fake gcloud for test/deploy/idempotence.test.ts: remembers what was
// created in $FAKE_GCLOUD_STATE/state.json and answers describe/list from it.
// Every call is appended to calls.jsonl. Secret payloads are recorded only as
// a hash and a shape. Unknown commands exit 3, so new deploy.sh steps must be
// taught here.
import { createHash } from 'node:crypto';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env.FAKE_GCLOUD_STATE;
if (!dir) {
  process.stderr.write('FAKE_GCLOUD_STATE not set\n');
  process.exit(3);
}
const statePath = join(dir, 'state.json');
let state;
try {
  state = JSON.parse(readFileSync(statePath, 'utf8'));
} catch {
  state = { apis: [], set: {}, versions: {} };
}
const save = () => writeFileSync(statePath, JSON.stringify(state));
const has = (k) => state.set[k] === true;
const mark = (k) => {
  state.set[k] = true;
};

const argv = process.argv.slice(2);
const flags = {};
const pos = [];
for (const a of argv) {
  if (a.startsWith('--')) {
    const i = a.indexOf('=');
    flags[i < 0 ? a.slice(2) : a.slice(2, i)] = i < 0 ? true : a.slice(i + 1);
  } else pos.push(a);
}
const cmd = pos.join(' ');
const record = (extra = {}) => appendFileSync(join(dir, 'calls.jsonl'), `${JSON.stringify({ argv, ...extra })}\n`);
const out = (s) => process.stdout.write(`${s}\n`);
const notFound = () => {
  process.stderr.write('ERROR: NOT_FOUND\n');
  process.exit(1);
};
const filterBinding = () => {
  const f = String(flags.filter ?? '');
  const role = /bindings\.role="([^"]+)"/.exec(f)?.[1];
  const member = /bindings\.members="([^"]+)"/.exec(f)?.[1];
  return `${role}|${member}`;
};
const startsWith = (p) => cmd === p || cmd.startsWith(`${p} `);
const arg = (i) => pos[i];

function shapeOf(buf) {
  const text = buf.toString('utf8');
  if (/^[A-Za-z0-9_-]{43}$/.test(text) && Buffer.from(text, 'base64url').length === 32) return 'base64url-32-bytes';
  try {
    const j = JSON.parse(text);
    if (j.kty === 'OKP' && j.crv === 'Ed25519' && typeof j.d === 'string' && typeof j.x === 'string')
      return 'ed25519-private-jwk';
  } catch {
    /* not JSON */
  }
  return 'other';
}

record();
if (startsWith('auth list')) out('tester@example.com');
else if (startsWith('services list')) out(state.apis.join('\n'));
else if (startsWith('services enable')) state.apis.push(...pos.slice(2));
else if (startsWith('firestore databases describe')) {
  if (has(`db:${flags.database}`)) out('db');
  else notFound();
} else if (startsWith('firestore databases create')) mark(`db:${flags.database}`);
else if (startsWith('firestore indexes fields describe')) {
  const k = `${flags['collection-group']}.${arg(4)}`;
  out(`${has(`ttl:${k}`) ? 'ACTIVE' : ''}|${has(`exempt:${k}`) ? 'False' : 'True'}`);
} else if (startsWith('firestore fields ttls update')) mark(`ttl:${flags['collection-group']}.${arg(4)}`);
else if (startsWith('firestore indexes fields update')) mark(`exempt:${flags['collection-group']}.${arg(4)}`);
else if (startsWith('iam service-accounts describe')) {
  if (has(`sa:${arg(3).split('@')[0]}`)) out(arg(3));
  else notFound();
} else if (startsWith('iam service-accounts create')) mark(`sa:${arg(3)}`);
else if (startsWith('projects get-iam-policy')) {
  if (has(`pbind:${filterBinding()}`)) out(filterBinding().split('|')[0]);
} else if (startsWith('projects add-iam-policy-binding')) mark(`pbind:${flags.role}|${flags.member}`);
else if (startsWith('secrets describe')) {
  if (has(`secret:${arg(2)}`)) out(arg(2));
  else notFound();
} else if (startsWith('secrets create')) mark(`secret:${arg(2)}`);
else if (startsWith('secrets versions list'))
  out(
    (state.versions[arg(3)] ?? [])
      .map((v) => v.version)
      .reverse()
      .join('\n'),
  );
else if (startsWith('secrets versions add')) {
  if (flags['data-file'] !== '-') {
    process.stderr.write('fake: expected --data-file=-\n');
    process.exit(3);
  }
  const payload = readFileSync(0);
  const list = (state.versions[arg(3)] ??= []);
  list.push({
    version: list.length + 1,
    sha256: createHash('sha256').update(payload).digest('hex'),
    shape: shapeOf(payload),
  });
} else if (startsWith('secrets get-iam-policy')) {
  if (has(`sbind:${arg(2)}|${filterBinding()}`)) out('roles/secretmanager.secretAccessor');
} else if (startsWith('secrets add-iam-policy-binding')) mark(`sbind:${arg(2)}|${flags.role}|${flags.member}`);
else if (startsWith('functions deploy')) {
  /* always redeployed */
} else if (startsWith('logging metrics describe')) {
  if (has(`metric:${arg(3)}`)) out(arg(3));
  else notFound();
} else if (startsWith('logging metrics create')) {
  readFileSync(String(flags['config-from-file']));
  mark(`metric:${arg(3)}`);
} else if (startsWith('monitoring dashboards list')) {
  if (has('dashboard')) out('projects/1/dashboards/abc');
} else if (startsWith('monitoring dashboards create')) {
  JSON.parse(readFileSync(String(flags['config-from-file']), 'utf8'));
  mark('dashboard');
} else {
  process.stderr.write(`fake gcloud: unsupported command: ${cmd}\n`);
  process.exit(3);
}
save();
