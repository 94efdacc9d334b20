/**
 * Measures warm server-side time of `GET /hierarchicalrequirement/{oid}` in
 * process (the full pipeline: auth, limiter, routing, serialization; no socket).
 * Run: node_modules/.bin/node --import tsx rally-sandbox/bench.ts [requests]
 * @module
 */
import { performance } from 'node:perf_hooks';
import { startRallySandbox } from './index.js';

const n = Number(process.argv[2] ?? 2000);
const sb = await startRallySandbox({
  clientId: 'bench',
  clientSecret: 'bench',
  redirectUris: ['http://127.0.0.1:9/cb'],
  extraUsers: 200,
});
const { access_token } = sb.issueTokens('alice');
const story = sb.items('hierarchicalrequirement').find((s) => s.FormattedID === 'US1');
const url = `/slm/webservice/v2.0/hierarchicalrequirement/${String(story?.ObjectID)}`;
const headers = { zsessionid: access_token };
const time = async (path: string): Promise<number[]> => {
  for (let i = 0; i < 200; i++) await sb.dispatch({ method: 'GET', url: path, headers }); // warm-up
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const reply = await sb.dispatch({ method: 'GET', url: path, headers });
    samples.push(performance.now() - t0);
    if (reply?.status !== 200) throw new Error(`unexpected status ${String(reply?.status)}`);
    if (i % 500 === 0) sb.clearRequests(); // keep the log from growing without bound
  }
  return samples.sort((a, b) => a - b);
};
const report = (label: string, s: number[]) =>
  process.stdout.write(
    `${label.padEnd(48)} median ${(s[Math.floor(s.length / 2)] ?? 0).toFixed(3)} ms  p95 ${(s[Math.floor(s.length * 0.95)] ?? 0).toFixed(3)} ms  (n=${s.length})\n`,
  );
report('GET /hierarchicalrequirement/{oid} (full object)', await time(url));
report('GET /hierarchicalrequirement/{oid}?fetch=Name', await time(`${url}?fetch=FormattedID,Name,ScheduleState`));
report(
  'GET /hierarchicalrequirement?query=… (20 items)',
  await time(
    '/slm/webservice/v2.0/hierarchicalrequirement?query=(ScheduleState%20%3C%20Accepted)&fetch=FormattedID,Name',
  ),
);
await sb.stop();
