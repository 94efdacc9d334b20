/**
 * Connection tokens (issue 18): the format secret scanners and our redaction recognise, 256 bits
 * of secret, only a hash kept, and a comparison that refuses every near miss.
 */
import {
  CONNECTION_TOKEN_PREFIX,
  mintConnectionToken,
  parseConnectionToken,
  secretMatches,
} from '../../../shared/crypto/connection-token.js';
import { redactSecrets } from '../../../shared/logging/logger.js';

describe('connection token format', () => {
  it('O4: a minted token has the prefix, a 20-hex id and a 43-character (256-bit) secret; ids and secrets never repeat', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const { token, id, secretHash } = mintConnectionToken();
      expect(token).toMatch(/^rmcp_ct_[0-9a-f]{20}_[A-Za-z0-9_-]{43}$/);
      expect(token.startsWith(`${CONNECTION_TOKEN_PREFIX}${id}_`)).toBe(true);
      const parsed = parseConnectionToken(token)!;
      expect(parsed.id).toBe(id);
      expect(secretHash).not.toContain(parsed.secret);
      expect(secretMatches(parsed.secret, secretHash)).toBe(true);
      seen.add(id).add(parsed.secret);
    }
    expect(seen.size).toBe(400);
  });

  it('O4: a changed character, a truncated or extended secret, or another token’s hash does not match', () => {
    const a = mintConnectionToken();
    const b = mintConnectionToken();
    const secret = parseConnectionToken(a.token)!.secret;
    const flipped = `${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`;
    expect(secretMatches(flipped, a.secretHash)).toBe(false);
    expect(secretMatches(secret.slice(0, -1), a.secretHash)).toBe(false);
    expect(secretMatches(`${secret}A`, a.secretHash)).toBe(false);
    expect(secretMatches(secret, b.secretHash)).toBe(false);
    expect(secretMatches(secret, '')).toBe(false);
  });

  it('O4: malformed tokens do not parse', () => {
    const { token } = mintConnectionToken();
    for (const bad of [
      '',
      'rmcp_ct_',
      token.toUpperCase(),
      `${token}x`,
      token.slice(0, -1),
      token.replace('_', '-'),
      ` ${token}`,
    ])
      expect(parseConnectionToken(bad)).toBeUndefined();
  });

  it('K1: a connection token in any log text is redacted', () => {
    const { token } = mintConnectionToken();
    for (const text of [token, `header X-Rally-MCP-Token: ${token}`, `{"t":"${token}"}`, token.slice(0, 30)]) {
      const out = redactSecrets(text);
      expect(out).not.toContain(token.slice(8, 30));
      expect(out).toContain('[redacted]');
    }
  });
});
