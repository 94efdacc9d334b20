/**
 * Parser for Rally's WSAPI query language (rally-api.md §3.6): every condition
 * in parentheses, AND/OR joining exactly two parenthesised operands.
 * @module
 */

export type QueryOp = '=' | '!=' | '<' | '<=' | '>' | '>=' | 'contains' | '!contains' | 'in';

export interface QueryValue {
  readonly text: string;
  /** Quoted values are never the keywords null/true/false/today. */
  readonly quoted: boolean;
}

export type QueryNode =
  | { readonly kind: 'bool'; readonly op: 'AND' | 'OR'; readonly left: QueryNode; readonly right: QueryNode }
  | { readonly kind: 'cond'; readonly path: readonly string[]; readonly op: QueryOp; readonly value: QueryValue };

/** Message goes after Rally's `Could not parse: ` prefix. */
export class QueryError extends Error {
  override readonly name = 'QueryError';
}

const WORD_OPS: Readonly<Record<string, QueryOp>> = { contains: 'contains', '!contains': '!contains', in: 'in' };
const MAX_DEPTH = 64;

class Parser {
  private pos = 0;
  constructor(private readonly src: string) {}

  parse(): QueryNode {
    this.ws();
    const node = this.expr(0);
    this.ws();
    if (this.pos < this.src.length)
      throw new QueryError(
        `Error parsing expression -- unexpected text "${this.src.slice(this.pos, this.pos + 20)}" after the closing parenthesis`,
      );
    return node;
  }

  private expr(depth: number): QueryNode {
    if (depth > MAX_DEPTH) throw new QueryError('Error parsing expression -- nesting too deep');
    this.expect('(');
    this.ws();
    if (this.peek() === '(') {
      const left = this.expr(depth + 1);
      this.ws();
      const word = this.word();
      const op = word.toUpperCase();
      if (op !== 'AND' && op !== 'OR')
        throw new QueryError(
          `Error parsing expression -- expected "AND" or "OR" but saw "${word || this.peek() || 'end of query'}" instead.`,
        );
      this.ws();
      const right = this.expr(depth + 1);
      this.ws();
      if (this.peek() !== ')')
        throw new QueryError(
          `Error parsing expression -- expected ")" but saw "${this.word() || this.peek() || 'end of query'}" instead.`,
        );
      this.pos++;
      return { kind: 'bool', op, left, right };
    }
    const path = this.attr();
    this.ws();
    const op = this.op();
    this.ws();
    const value = this.value();
    this.ws();
    if (this.peek() !== ')')
      throw new QueryError(
        `Error parsing expression -- expected ")" but saw "${this.word() || this.peek() || 'end of query'}" instead.`,
      );
    this.pos++;
    return { kind: 'cond', path, op, value };
  }

  private attr(): string[] {
    const m = /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*/.exec(this.src.slice(this.pos));
    if (!m)
      throw new QueryError(
        `Error parsing expression -- expected an attribute name but saw "${this.src.slice(this.pos, this.pos + 20) || 'end of query'}"`,
      );
    this.pos += m[0].length;
    return m[0].split('.');
  }

  private op(): QueryOp {
    const rest = this.src.slice(this.pos);
    const sym = /^(!=|<=|>=|=|<|>)/.exec(rest);
    if (sym) {
      this.pos += sym[0].length;
      return sym[0] as QueryOp;
    }
    const word = this.word();
    const op = WORD_OPS[word.toLowerCase()];
    if (!op) throw new QueryError(`Unknown operator "${word || rest.slice(0, 1) || 'end of query'}"`);
    return op;
  }

  private value(): QueryValue {
    const q = this.peek();
    if (q === '"' || q === "'") {
      let out = '';
      this.pos++;
      while (this.pos < this.src.length && this.src[this.pos] !== q) {
        if (this.src[this.pos] === '\\' && this.pos + 1 < this.src.length) this.pos++;
        out += this.src[this.pos];
        this.pos++;
      }
      if (this.pos >= this.src.length) throw new QueryError('Error parsing expression -- unterminated quoted value');
      this.pos++;
      return { text: out, quoted: true };
    }
    const m = /^[^\s()"']+/.exec(this.src.slice(this.pos));
    if (!m)
      throw new QueryError(`Error parsing expression -- expected a value but saw "${this.peek() || 'end of query'}"`);
    this.pos += m[0].length;
    return { text: m[0], quoted: false };
  }

  /** Reads a run of non-space, non-paren characters (operators, AND/OR). */
  private word(): string {
    const m = /^[^\s()]+/.exec(this.src.slice(this.pos));
    if (!m) return '';
    this.pos += m[0].length;
    return m[0];
  }

  private expect(ch: string): void {
    if (this.peek() !== ch)
      throw new QueryError(
        `Error parsing expression -- expected "${ch}" but saw "${this.peek() || 'end of query'}" instead.`,
      );
    this.pos++;
  }

  private peek(): string | undefined {
    return this.src[this.pos];
  }

  private ws(): void {
    while (this.pos < this.src.length && /\s/.test(this.src[this.pos] ?? '')) this.pos++;
  }
}

/** Parses a query string; throws QueryError with Rally-style wording. */
export function parseQuery(text: string): QueryNode {
  return new Parser(text).parse();
}
