/**
 * One mapper per surface (#15): every error response in shared/ (an error
 * page, a JSON-RPC error, an OAuth error, a REST error, an isError tool
 * result, the 503) is built by its surface's mapper and nowhere else. Handlers
 * throw a coded error or name a refusal; the mapper picks status, headers and
 * body. This test parses every source file under shared/ and fails on an
 * error response built outside the modules (or functions) listed below.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

const ROOT = new URL('../../..', import.meta.url).pathname;

/** Where error responses may be built, and why there. `'*'`: the whole module is the mapper. */
const MAPPERS: Readonly<Record<string, { readonly in: '*' | readonly string[]; readonly why: string }>> = {
  'shared/http/page-errors.ts': { in: '*', why: 'the error pages: /authorize, /consent, /connect, the callback' },
  'shared/http/pages.ts': { in: ['sendPage'], why: 'renders every page; the status comes from its caller' },
  'shared/http/unavailable.ts': {
    in: ['respondUnavailable'],
    why: 'the one 503 of every surface (the body is theirs)',
  },
  'shared/http/fetch-bridge.ts': {
    in: ['webExchange'],
    why: 'relays a web handler’s answer unchanged: the MCP SDK’s own protocol errors on /mcp, which v1 wrote itself',
  },
  'shared/oauth-as/oauth-errors.ts': { in: '*', why: 'OAuth JSON (RFC 6749 §5.2), §4.1.2.1 redirects, fallbacks' },
  'shared/mcp/jsonrpc-errors.ts': { in: '*', why: 'JSON-RPC errors on /mcp and the tool-outcome mapping' },
  'shared/mcp/rest.ts': {
    in: ['refuseRest', 'respondOutcome', 'respondRestError', 'sendRestEdgeError'],
    why: 'the REST shape’s mapper, kept next to its handler',
  },
  'shared/mcp/tools/tool-errors.ts': { in: ['errorResult'], why: 'the one isError tool result' },
};

interface Finding {
  readonly file: string;
  readonly line: number;
  readonly what: string;
  /** The top-level declaration it sits in (function, const or class name). */
  readonly within: string | undefined;
}

/** Calls whose arguments are a response body or an error redirect. */
const BODY_CALLS = new Set(['json', 'send', 'end', 'redirect', 'clientRedirect']);
/** Calls that set a status: `res.status(n)`, `res.sendStatus(n)`, `res.writeHead(n)`, `sendPage(res, n, …)`. */
const STATUS_CALLS: Readonly<Record<string, number>> = { status: 0, sendStatus: 0, writeHead: 0, sendPage: 1 };

const calleeName = (e: ts.LeftHandSideExpression): string | undefined =>
  ts.isIdentifier(e) ? e.text : ts.isPropertyAccessExpression(e) ? e.name.text : undefined;

const propertyNames = (o: ts.ObjectLiteralExpression): Set<string> =>
  new Set(
    o.properties
      .map((p) => p.name)
      .filter((n): n is ts.Identifier | ts.StringLiteral => !!n && (ts.isIdentifier(n) || ts.isStringLiteral(n)))
      .map((n) => n.text),
  );

/** A status below 400 written as a literal is not an error; anything else (≥ 400, or computed) is. */
const isErrorStatus = (arg: ts.Expression | undefined): boolean =>
  arg !== undefined && !(ts.isNumericLiteral(arg) && Number(arg.text) < 400);

function topLevelName(node: ts.Node): string | undefined {
  let n = node;
  while (n.parent && !ts.isSourceFile(n.parent)) n = n.parent;
  if (ts.isFunctionDeclaration(n) || ts.isClassDeclaration(n)) return n.name?.text;
  if (ts.isVariableStatement(n)) {
    const name = n.declarationList.declarations[0]?.name;
    return name && ts.isIdentifier(name) ? name.text : undefined;
  }
  return undefined;
}

/** Every place in `source` that builds an error response. */
function errorResponsesIn(file: string, source: string): Finding[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: Finding[] = [];
  const add = (node: ts.Node, what: string) =>
    found.push({
      file,
      line: sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1,
      what,
      within: topLevelName(node),
    });
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node)) {
      const name = calleeName(node.expression);
      if (name === 'sendErrorPage') add(node, 'sendErrorPage(…)');
      const statusArg = name === undefined ? undefined : STATUS_CALLS[name];
      if (statusArg !== undefined && isErrorStatus(node.arguments[statusArg]))
        add(node, `${name}(${node.arguments[statusArg]!.getText(sf)})`);
      if (name !== undefined && BODY_CALLS.has(name)) {
        const errorBody = (n: ts.Node): boolean =>
          (ts.isObjectLiteralExpression(n) && propertyNames(n).has('error')) || ts.forEachChild(n, errorBody) === true;
        if (node.arguments.some(errorBody)) add(node, `${name}(… { error } …)`);
      }
    }
    if (ts.isNewExpression(node) && ts.isIdentifier(node.expression)) {
      if (node.expression.text === 'McpError' || node.expression.text === 'UrlElicitationRequiredError')
        add(node, `new ${node.expression.text}(…)`);
    }
    if (ts.isObjectLiteralExpression(node)) {
      const keys = propertyNames(node);
      if (keys.has('jsonrpc') && keys.has('error')) add(node, '{ jsonrpc, error }');
      if (keys.has('isError')) add(node, '{ isError }');
    }
    if (
      ts.isBinaryExpression(node) &&
      node.operatorToken.kind === ts.SyntaxKind.EqualsToken &&
      ts.isPropertyAccessExpression(node.left) &&
      node.left.name.text === 'statusCode' &&
      isErrorStatus(node.right)
    )
      add(node, `statusCode = ${node.right.getText(sf)}`);
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

const allowed = (f: Finding): boolean => {
  const mapper = MAPPERS[f.file];
  return mapper !== undefined && (mapper.in === '*' || (f.within !== undefined && mapper.in.includes(f.within)));
};

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const rel = join(dir, name);
    if (statSync(join(ROOT, rel)).isDirectory()) return sourceFiles(rel);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [rel] : [];
  });
}

const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

describe('one mapper per surface', () => {
  it('no module in shared/ builds an error response outside its surface’s mapper', () => {
    const outside = sourceFiles('shared')
      .flatMap((file) => errorResponsesIn(relative(ROOT, join(ROOT, file)), read(file)))
      .filter((f) => !allowed(f))
      .map((f) => `${f.file}:${f.line} ${f.what}${f.within ? ` (in ${f.within})` : ''}`);
    expect(outside).toEqual([]);
  });

  it('every listed mapper exists, with the functions it names, and builds error responses', () => {
    for (const [file, mapper] of Object.entries(MAPPERS)) {
      const found = errorResponsesIn(file, read(file));
      expect({ file, builds: found.length > 0 }).toEqual({ file, builds: true });
      if (mapper.in === '*') continue;
      const declared = new Set(found.map((f) => f.within));
      for (const fn of mapper.in)
        expect({ file, fn, declared: declared.has(fn) }).toEqual({ file, fn, declared: true });
    }
  });

  describe('the scan finds each kind of inline error response', () => {
    const inHandler = (code: string) =>
      errorResponsesIn('shared/oauth-as/authorize.ts', `export async function handle(res) {\n${code}\n}`);
    it.each([
      ['an error status', `res.status(404).end();`, 'status(404)'],
      ['a computed status', `res.status(err.status).json(body);`, 'status(err.status)'],
      ['an error page', `sendErrorPage(res, 400, 'Bad', 'Nope');`, 'sendErrorPage(…)'],
      ['a page with an error status', `sendPage(res, 403, 'Refused', body);`, 'sendPage(403)'],
      ['an OAuth error body', `res.json({ error: 'invalid_request', error_description: 'x' });`, 'json(… { error } …)'],
      [
        'an OAuth error redirect',
        `res.redirect(302, clientRedirect(uri, iss, { error: 'access_denied' }));`,
        'redirect(… { error } …)',
      ],
      [
        'a JSON-RPC error',
        `const e = { jsonrpc: '2.0', id: null, error: { code: -32000, message: 'm' } };`,
        '{ jsonrpc, error }',
      ],
      ['an McpError', `throw new McpError(ErrorCode.InvalidParams, 'bad');`, 'new McpError(…)'],
      ['an isError result', `return { isError: true, content: [] };`, '{ isError }'],
      ['a status code assignment', `res.statusCode = 500;`, 'statusCode = 500'],
    ])('%s', (_kind, code, what) => {
      const found = inHandler(code);
      expect(found.map((f) => f.what)).toContain(what);
      expect(found.every((f) => !allowed(f))).toBe(true);
    });

    it('and leaves success answers and thrown errors alone', () => {
      expect(
        inHandler(`res.status(200).json({ ok: true });
res.status(204).end();
res.set('Cache-Control', 'no-store').redirect(302, clientRedirect(uri, iss, { code, state }));
sendPage(res, 200, 'Rally is connected', body);
throw new OAuthError('invalid_request', 'code is required.');
throw new McpAuthError('invalid_token', 401, 'Sign-in required.', challenge(deps, { error: 'invalid_token' }));`),
      ).toEqual([]);
    });

    it('allows it inside a listed mapper function, not beside it', () => {
      const rest = (fn: string) =>
        errorResponsesIn('shared/mcp/rest.ts', `function ${fn}(res) { res.status(404).json({ error: 'x' }); }`);
      expect(rest('respondRestError').every(allowed)).toBe(true);
      expect(rest('serveToolRest').some(allowed)).toBe(false);
    });
  });
});
