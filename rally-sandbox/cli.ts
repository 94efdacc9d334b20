/**
 * `npm run sandbox`: starts the Rally sandbox for local development and
 * prints how to use it. Configured by SANDBOX_PORT, RALLY_CLIENT_ID,
 * RALLY_CLIENT_SECRET, RALLY_REDIRECT_URI (plus SANDBOX_EXTRA_USERS,
 * SANDBOX_AUTO_APPROVE=true). Ctrl-C stops it.
 * @module
 */
import { startRallySandbox } from './index.js';
import { SEED_USERS } from './seed.js';

const env = process.env;
const port = Number(env.SANDBOX_PORT ?? 8089);
const clientId = env.RALLY_CLIENT_ID ?? '0123456789abcdef0123456789abcdef';
const clientSecret = env.RALLY_CLIENT_SECRET ?? 'sandboxSecretDoNotUseInProduction0123456789';
const redirectUri = env.RALLY_REDIRECT_URI ?? 'http://127.0.0.1:8080/oauth/callback';

const extraUsers = Number(env.SANDBOX_EXTRA_USERS ?? 0);
const autoApprove = env.SANDBOX_AUTO_APPROVE === 'true';

const sandbox = await startRallySandbox({
  port,
  clientId,
  clientSecret,
  redirectUris: [redirectUri],
  extraUsers,
  autoApprove,
});
const out = (line = '') => process.stdout.write(`${line}\n`);
out(`Rally sandbox listening on ${sandbox.url}`);
out(`  RALLY_BASE_URL      ${sandbox.url}`);
out(`  WSAPI               ${sandbox.url}/slm/webservice/v2.0`);
out(`  authorize           ${sandbox.url}/login/oauth2/auth`);
out(`  token               ${sandbox.url}/login/oauth2/token`);
out();
out('OAuth client');
out(`  client_id           ${clientId}`);
out(`  client_secret       ${clientSecret}`);
out(`  redirect_uri        ${redirectUri}`);
out();
out('Demo users (password = user name)');
for (const u of SEED_USERS)
  out(
    `  ${u.login.padEnd(8)} password ${u.login.padEnd(8)} ${u.userName.padEnd(20)} API key ${sandbox.apiKey(u.login)}`,
  );
if (extraUsers > 0) out(`  user001 … user${String(extraUsers).padStart(3, '0')} (password = user name)`);
out();
out('Press Ctrl-C to stop.');

const stop = () => {
  void sandbox.stop().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
