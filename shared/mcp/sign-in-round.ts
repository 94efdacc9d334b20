/**
 * The 2026-07-28 sign-in prompt as a multi-round-trip request: a tool that
 * found no usable Rally link answers `input_required` with a URL elicitation
 * (the connect link) and a `requestState`; the client opens the link, then
 * retries the same call with the user's answer and the state echoed back.
 *
 * The state comes back through the client, so it is attacker-controlled
 * (MCP basic/patterns/mrtr, server requirements 4–5). It is sealed as a
 * compact JWE under the key ring that seals Rally tokens (shared/crypto/sealer.ts),
 * bound in its authenticated header to the principal (grant, client, user)
 * and to the original request (tool name and arguments), carries a short
 * expiry, and is spent on first use in Firestore. A state that fails any of
 * these is refused before the tool runs: the SDK answers -32602.
 * @module
 */
import type { Firestore } from '@google-cloud/firestore';
import { z } from 'zod';
import type { Clock } from '../kernel/clock.js';
import { addSeconds } from '../kernel/clock.js';
import { CodedError, type RequestStateErrorCode } from '../kernel/errors.js';
import { randomToken, sha256Id } from '../kernel/hash.js';
import { UnsealError, type Sealer } from '../crypto/sealer.js';
import { spendRequestState } from '../store/spent-request-states.repo.js';

/** The key of our one input request in `inputRequests` / `inputResponses`. */
export const SIGN_IN_INPUT_KEY = 'rally_sign_in';

/** As long as the connect link it carries (shared/session-link/connect.ts). */
export const REQUEST_STATE_TTL_SECONDS = 600;

export class RequestStateError extends CodedError<RequestStateErrorCode> {
  constructor(code: RequestStateErrorCode) {
    super(code, code);
    this.name = 'RequestStateError';
  }
}

/** What a verified state says: which prompt it answers, for which tool. */
export interface SignInRoundState {
  readonly promptId: string;
  readonly tool: string;
}

const Payload = z
  .object({
    v: z.literal(1),
    /** Random prompt id: the single-use key. */
    id: z.string().regex(/^[A-Za-z0-9_-]{22}$/),
    tool: z.string().max(128),
    /** Seconds since the epoch. */
    exp: z.number().int().positive(),
  })
  .strict();

/** Who asked and what they asked for; the state opens only for the same pair. */
export interface RoundBinding {
  /** e.g. `grant:<grantId>:<clientId>:<sub>`. */
  readonly principal: string;
  readonly tool: string;
  readonly arguments: unknown;
}

/** JSON with object keys sorted at every level, so equal arguments give equal bytes. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    typeof v === 'object' && v !== null && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/** The sealer's binding for a state: a domain of its own, the principal and a digest of the request. */
function boundTo(b: RoundBinding): string {
  const request = sha256Id(canonicalJson({ name: b.tool, arguments: b.arguments ?? {} }));
  return `mcp/request-state/${b.principal}/${request}`;
}

export interface SignInRoundDeps {
  readonly sealer: Pick<Sealer, 'seal' | 'unseal'>;
  readonly clock: Clock;
  db(): Promise<Firestore>;
}

export interface SignInRounds {
  /** A fresh state for a prompt answering `binding`'s request. */
  mint(binding: RoundBinding): Promise<string>;
  /** The state's claims if it is ours, for this principal and request, unexpired and unspent; it is spent now. */
  verify(state: string, binding: RoundBinding): Promise<SignInRoundState>;
}

export function createSignInRounds(deps: SignInRoundDeps): SignInRounds {
  return {
    async mint(binding) {
      const exp = Math.floor(addSeconds(deps.clock.now(), REQUEST_STATE_TTL_SECONDS).getTime() / 1000);
      const payload: z.infer<typeof Payload> = { v: 1, id: randomToken(16), tool: binding.tool, exp };
      return deps.sealer.seal(JSON.stringify(payload), boundTo(binding));
    },

    async verify(state, binding) {
      let plaintext: Uint8Array;
      try {
        ({ plaintext } = await deps.sealer.unseal(state, boundTo(binding)));
      } catch (err) {
        // Tampered, forged, another principal's or another request's state: all the same refusal.
        if (err instanceof UnsealError) throw new RequestStateError('request_state_invalid');
        throw err; // the key ring unavailable is an outage (503), not a bad state
      }
      let claims: z.infer<typeof Payload>;
      try {
        claims = Payload.parse(JSON.parse(new TextDecoder().decode(plaintext)));
      } catch {
        throw new RequestStateError('request_state_invalid');
      } finally {
        plaintext.fill(0);
      }
      if (claims.tool !== binding.tool) throw new RequestStateError('request_state_invalid');
      const now = deps.clock.now();
      const expiresAt = new Date(claims.exp * 1000);
      if (expiresAt <= now) throw new RequestStateError('request_state_expired');
      if (!(await spendRequestState(await deps.db(), claims.id, now, expiresAt)))
        throw new RequestStateError('request_state_replayed');
      return { promptId: claims.id, tool: claims.tool };
    },
  };
}
