/**
 * L11: whether a session id is strong enough to be a credential. A conservative
 * estimate of the guesses an attacker needs, taken as the minimum over views of
 * the value (itself, and the text it encodes if it is hex or base64url of text)
 * and over estimators (an LZ77-style compressor, zxcvbn's decomposition into
 * dictionary words, keyboard walks, sequences, repeats and dates, and the cheapest
 * spelling as words from zxcvbn's lists).
 *
 * zxcvbn's dictionaries cost about 0.75 s and ~60 MB of heap to load, so they are
 * loaded on the first session-link credential an instance checks, never at cold
 * start; the caller caches verdicts per session.
 * @module
 */
import type { ZxcvbnFactory } from '@zxcvbn-ts/core';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;
const BASE64URL = /^[A-Za-z0-9_-]{22,256}$/;
const HEX = /^[0-9a-f-]+$/i;

/**
 * The 32-hex cores of UUIDs copied from specifications, documentation and tutorials: random-looking,
 * so no statistic can tell them apart; anyone can try them, so they protect nothing. A value that
 * contains one, in any case and with or without dashes or underscores, is refused.
 */
const KNOWN_EXAMPLES: readonly string[] = [
  '123e4567-e89b-42d3-a456-426614174000', // the "123e4567…" example, v4 form
  '123e4567-e89b-12d3-a456-426614174000',
  'f47ac10b-58cc-4372-a567-0e02b2c3d479', // RFC 4122 era example
  '3fa85f64-5717-4562-b3fc-2c963f66afa6', // Swagger UI's default uuid example
  'd290f1ee-6c54-4b01-90e6-d701748f0851', // OpenAPI petstore example
  'de305d54-75b4-431b-adb2-eb6b9e546014', // Wikipedia's v4 example
  '919108f7-52d1-4320-9bac-f847db4148a8', // RFC 9562 v4 example
  '9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d', // the uuid npm package's README
  '1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed', // ditto
  '110ec58a-a0f2-4ac4-8393-c866d813b8d1', // common tutorial example
  '550e8400-e29b-41d4-a716-446655440000', // Wikipedia's and many tutorials' example
  'f81d4fae-7dec-11d0-a765-00a0c91e6bf6', // RFC 4122's URN example
  '00112233-4455-6677-8899-aabbccddeeff', // RFC 9562 test vector style
  'a8098c1a-f86e-11da-bd1a-00112444be1e', // RFC 4122 appendix
  '00000000-0000-0000-0000-000000000000', // nil
  'ffffffff-ffff-ffff-ffff-ffffffffffff', // max
  'loremipsum', // placeholder text: Latin, so in none of zxcvbn's word lists
].map((example) => example.replace(/-/g, ''));

/**
 * Below this estimate a value is refused: 2^80 online guesses are out of reach, while a random UUIDv4
 * (122 bits) or 22 random base64url characters (132 bits) estimate well above it (the property tests
 * in test/unit/http/session-id.test.ts check it over random values).
 */
export const MIN_SESSION_ID_BITS = 80;

/** zxcvbn judges this prefix only: its cost grows with the square of the length, and any 64 random characters are strong. */
const ZXCVBN_MAX_LENGTH = 64;

/**
 * What a zxcvbn match costs on top of its guesses: which of its patterns it is and where it ends. Without
 * it, the short dates and runs random hex is full of (`1976263`, `246`) took a UUIDv4 down to 81 bits.
 */
const MATCH_BITS = 3;

/** The smallest common alphabet a value's symbols all belong to (a hex string is never 6 bits a symbol). */
const ALPHABETS: readonly (readonly [RegExp, number])[] = [
  [/^[0-9]*$/, 10],
  [/^[0-9a-f]*$/i, 16],
  [/^[a-z]*$/, 26],
  [/^[A-Z]*$/, 26],
  [/^[a-z0-9_-]*$/, 38],
  [/^[A-Z0-9_-]*$/, 38],
  [/^[A-Za-z]*$/, 52],
  [/^[A-Za-z0-9_-]*$/, 64],
  [/^[\x20-\x7e]*$/, 95],
];
export function alphabetBits(value: string): number {
  return Math.log2(ALPHABETS.find(([re]) => re.test(value))?.[1] ?? 256);
}

/**
 * A conservative entropy estimate in the spirit of LZ77 compression: a symbol costs its full width
 * unless it repeats something already seen (a substring of ≥ 3 symbols, overlapping allowed: catches
 * `aaaa…`, `abab…`, `abcabc…`) or continues a ±1 run (`ABCDEF…`, `9876…`), which cost only the few
 * bits needed to say "copy" or "continue". Random values compress by a few bits at most.
 */
export function estimateEntropyBits(symbols: readonly number[], bitsPerSymbol: number): number {
  const at = (k: number): number => symbols[k] ?? NaN; // as in plain JS: arithmetic past the end is NaN
  let bits = 0;
  let i = 0;
  while (i < symbols.length) {
    let longest = 0;
    for (let j = 0; j < i; j++) {
      let l = 0;
      while (i + l < symbols.length && symbols[j + l] === symbols[i + l]) l++;
      longest = Math.max(longest, l);
    }
    if (longest >= 3) {
      bits += Math.log2(i) + Math.log2(longest) + 1; // where from, how long, a flag
      i += longest;
      continue;
    }
    const step = i >= 2 ? at(i - 1) - at(i - 2) : 0;
    if ((step === 1 || step === -1) && at(i) - at(i - 1) === step) {
      let run = 1;
      while (i + run < symbols.length && at(i + run) - at(i + run - 1) === step) run++;
      bits += Math.log2(run) + 2;
      i += run;
      continue;
    }
    bits += bitsPerSymbol;
    i++;
  }
  return bits;
}

interface Estimators {
  readonly zxcvbn: ZxcvbnFactory;
  /** zxcvbn's word lists merged: a word (≥ 3 characters, with a letter) and log2 of its best rank. */
  readonly wordBits: ReadonlyMap<string, number>;
}

/** Above this, zxcvbn's words are not looked up (its lists hold nothing longer that matters). */
const MAX_WORD_LENGTH = 20;
/** A separator between words (`-`, `_`, space, `.`): one of four. */
const SEPARATOR_BITS = 2;

let zxcvbnLoading: Promise<Estimators> | undefined;
function loadZxcvbn(): Promise<Estimators> {
  zxcvbnLoading ??= Promise.all([
    import('@zxcvbn-ts/core'),
    import('@zxcvbn-ts/language-common'),
    import('@zxcvbn-ts/language-en'),
  ])
    .then(([core, common, en]) => ({
      wordBits: wordBitsOf({ ...common.dictionary, ...en.dictionary }),
      zxcvbn: new core.ZxcvbnFactory({
        dictionary: { ...common.dictionary, ...en.dictionary },
        graphs: common.adjacencyGraphs,
        translations: en.translations,
        // l33t substitutions multiply the work on hex and base64url (digits read as letters) tenfold.
        l33tTable: {},
        maxLength: ZXCVBN_MAX_LENGTH,
      }),
    }))
    .catch((err: unknown) => {
      zxcvbnLoading = undefined; // a failed load must not poison the instance
      throw err;
    });
  return zxcvbnLoading;
}

function wordBitsOf(lists: Record<string, unknown>): Map<string, number> {
  const bits = new Map<string, number>();
  for (const list of Object.values(lists)) {
    if (!Array.isArray(list)) continue;
    list.forEach((word: unknown, rank) => {
      if (typeof word !== 'string' || word.length < 3 || word.length > MAX_WORD_LENGTH || !/[a-z]/.test(word)) return;
      const cost = Math.log2(rank + 1);
      if (cost < (bits.get(word) ?? Infinity)) bits.set(word, cost);
    });
  }
  return bits;
}

/** A word as people write it (`word`, `Word`, `WORD`) costs 2 bits; in random case, a bit a letter, as in random text. */
const caseBits = (word: string): number => (/^(?:[a-z0-9]+|[A-Z][a-z0-9]*|[A-Z0-9]+)$/.test(word) ? 2 : word.length);

/**
 * The cheapest spelling of the value as words from zxcvbn's lists, separators and other symbols at the
 * alphabet's width (dynamic programming over positions): catches phrases such as `my-rally-session-for-vscode`
 * that zxcvbn, tuned to its own cheaper brute-force model, leaves partly unexplained.
 */
function wordsBits(wordBits: ReadonlyMap<string, number>, value: string, bitsPerSymbol: number): number {
  const lower = value.toLowerCase();
  const best = [0];
  const bestAt = (k: number): number => best[k] ?? NaN; // as in plain JS: arithmetic past the end is NaN
  for (let end = 1; end <= lower.length; end++) {
    let cost =
      bestAt(end - 1) +
      (/[-_ .]/.test(lower.charAt(end - 1)) ? Math.min(SEPARATOR_BITS, bitsPerSymbol) : bitsPerSymbol);
    for (let start = Math.max(0, end - MAX_WORD_LENGTH); start < end - 2; start++) {
      const word = wordBits.get(lower.slice(start, end));
      if (word !== undefined) cost = Math.min(cost, bestAt(start) + word + caseBits(value.slice(start, end)));
    }
    best.push(cost);
  }
  return bestAt(lower.length);
}

/**
 * zxcvbn's decomposition, costed conservatively: a part it could not explain (`bruteforce`) costs its
 * length at the alphabet's width; a word, walk, sequence, repeat or date costs log2 of its guesses.
 */
function zxcvbnBits(zxcvbn: ZxcvbnFactory, value: string, bitsPerSymbol: number): number {
  return zxcvbn
    .check(value.slice(0, ZXCVBN_MAX_LENGTH))
    .sequence.reduce(
      (bits, item) =>
        bits +
        (item.pattern === 'bruteforce' ? item.token.length * bitsPerSymbol : Math.log2(item.guesses) + MATCH_BITS),
      0,
    );
}

/** The text a hex or base64url value encodes, when it is printable text (random bytes almost never are). */
function encodedText(value: string): string | undefined {
  const hex = value.replace(/-/g, '');
  const bytes = HEX.test(value) && hex.length % 2 === 0 ? Buffer.from(hex, 'hex') : Buffer.from(value, 'base64url');
  const text = bytes.toString('latin1');
  return bytes.length >= 8 && /^[\x20-\x7e]+$/.test(text) ? text : undefined;
}

function estimate({ zxcvbn, wordBits }: Estimators, value: string): number {
  const bitsPerSymbol = alphabetBits(value);
  return Math.min(
    estimateEntropyBits(
      [...value].map((c) => c.charCodeAt(0)),
      bitsPerSymbol,
    ),
    zxcvbnBits(zxcvbn, value, bitsPerSymbol),
    wordsBits(wordBits, value.slice(0, ZXCVBN_MAX_LENGTH), bitsPerSymbol),
  );
}

/**
 * The estimate in bits of a UUIDv4 or ≥ 22 base64url characters: 0 when it contains a known example,
 * else the least over its views and estimators. Loads zxcvbn on first use.
 */
export async function estimateSessionIdBits(value: string): Promise<number> {
  const core = value.toLowerCase().replace(/-/g, '');
  if (KNOWN_EXAMPLES.some((example) => core.replace(/_/g, '').includes(example))) return 0;
  const estimators = await loadZxcvbn();
  // Hex is case-blind and its dashes are layout; a UUID's version nibble is fixed.
  const canonical = !HEX.test(value) ? value : UUID_V4.test(value) ? core.slice(0, 12) + core.slice(13) : core;
  const views = [canonical, encodedText(value)].filter((view) => view !== undefined);
  return Math.min(...views.map((view) => estimate(estimators, view)));
}

/** L11: a UUIDv4 or ≥ 22 base64url characters that contain no known example and estimate at ≥ MIN_SESSION_ID_BITS. */
export async function isStrongSessionId(value: string): Promise<boolean> {
  if (!UUID_V4.test(value) && !BASE64URL.test(value)) return false;
  return (await estimateSessionIdBits(value)) >= MIN_SESSION_ID_BITS;
}
