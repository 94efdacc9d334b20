/**
 * A real CommonMark + GFM parser (micromark, through mdast-util-from-markdown) as the
 * oracle for "this text renders no image, no raw HTML and no non-http(s) link".
 * Regexes cannot be the oracle for a Markdown sanitiser: the parser is what a chat
 * client runs.
 */
import { fromMarkdown } from 'mdast-util-from-markdown';
import { gfmFromMarkdown } from 'mdast-util-gfm';
import { gfm } from 'micromark-extension-gfm';

export interface MarkdownFinding {
  readonly kind: 'image' | 'html' | 'link';
  readonly detail: string;
}

interface MdNode {
  type: string;
  url?: string;
  value?: string;
  identifier?: string;
  children?: MdNode[];
}

const isHttp = (url: string): boolean => /^https?:\/\//i.test(url);

/** mailto: for an address the reader sees as written (GFM email autolink literal): no hidden target. */
function isVisibleMailto(node: MdNode): boolean {
  const shown = (node.children ?? []).map((c) => c.value ?? '').join('');
  return node.url === `mailto:${shown}` && !/[?&#]/.test(shown);
}

/** Everything in `markdown` that would render as an image, raw HTML or a non-http(s) link. */
export function renderedHazards(markdown: string): MarkdownFinding[] {
  const tree = fromMarkdown(markdown, { extensions: [gfm()], mdastExtensions: [gfmFromMarkdown()] }) as MdNode;
  const definitions = new Map<string, string>();
  const findings: MarkdownFinding[] = [];
  const collect = (node: MdNode): void => {
    if (node.type === 'definition' && node.identifier !== undefined) definitions.set(node.identifier, node.url ?? '');
    node.children?.forEach(collect);
  };
  const visit = (node: MdNode): void => {
    switch (node.type) {
      case 'image':
      case 'imageReference':
        findings.push({ kind: 'image', detail: node.url ?? node.identifier ?? '' });
        break;
      case 'html':
        findings.push({ kind: 'html', detail: node.value ?? '' });
        break;
      case 'link':
        if (!isHttp(node.url ?? '') && !isVisibleMailto(node)) findings.push({ kind: 'link', detail: node.url ?? '' });
        break;
      case 'linkReference': {
        const url = definitions.get(node.identifier ?? '') ?? '';
        if (!isHttp(url)) findings.push({ kind: 'link', detail: url });
        break;
      }
      case 'definition':
        if (!isHttp(node.url ?? '')) findings.push({ kind: 'link', detail: `definition ${node.url ?? ''}` });
        break;
      default:
    }
    node.children?.forEach(visit);
  };
  collect(tree);
  visit(tree);
  return findings;
}
