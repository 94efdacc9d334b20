/**
 * `npm run sandbox:github`: starts the GitHub sandbox for local development and
 * prints how to use it. Configured by GITHUB_SANDBOX_WEB_PORT, GITHUB_SANDBOX_API_PORT,
 * GITHUB_SANDBOX_TOKEN_MODE (oauth-app | github-app), GITHUB_CLIENT_ID,
 * GITHUB_CLIENT_SECRET and GITHUB_CALLBACK_URL. Ctrl-C stops it.
 * @module
 */
import { SEED_USERS, startGitHubSandbox } from './index.js';

const env = process.env;
const mode = env.GITHUB_SANDBOX_TOKEN_MODE === 'github-app' ? 'github-app' : 'oauth-app';
const clientId = env.GITHUB_CLIENT_ID ?? (mode === 'github-app' ? 'Iv1.0123456789abcdef' : 'Ov23li0123456789abcd');
const clientSecret = env.GITHUB_CLIENT_SECRET ?? 'sandboxGitHubSecretDoNotUseInProduction0123';
const callbackUrl = env.GITHUB_CALLBACK_URL ?? 'http://127.0.0.1:8080/oauth/callback';

const sandbox = await startGitHubSandbox({
  webPort: Number(env.GITHUB_SANDBOX_WEB_PORT ?? 8092),
  apiPort: Number(env.GITHUB_SANDBOX_API_PORT ?? 8093),
  clientId,
  clientSecret,
  callbackUrls: [callbackUrl],
  tokenMode: mode,
});
const out = (line = '') => process.stdout.write(`${line}\n`);
out(`GitHub sandbox (${mode} tokens)`);
out(`  web (github.com)      ${sandbox.webUrl}`);
out(`  API (api.github.com)  ${sandbox.apiUrl}`);
out(`  authorize             ${sandbox.webUrl}/login/oauth/authorize`);
out(`  token                 ${sandbox.webUrl}/login/oauth/access_token`);
out(
  `  controls              POST ${sandbox.webUrl}/_sandbox/users/<login>/revoke | expire-tokens | exhaust-rate-limit/<core|search>`,
);
out();
out('OAuth client');
out(`  client_id             ${clientId}`);
out(`  client_secret         ${clientSecret}`);
out(`  callback URL          ${callbackUrl}`);
out();
out('Users (password = login)');
for (const u of SEED_USERS) out(`  ${u.login.padEnd(8)} ${u.name}`);
out();
out('Press Ctrl-C to stop.');

const stop = () => {
  void sandbox.stop().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
