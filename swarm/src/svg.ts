/**
 * The report pages' plots as standalone SVG files, for documents that cannot run a script (the
 * Markdown of docs/CLAIMS.md). It runs the very code the pages inline (`PLOT_SCRIPT`) against a
 * minimal element builder instead of a browser's DOM, so there is one plotting code, whatever
 * the output.
 */
import { PLOT_SCRIPT } from './plots.ts';

export interface Series {
  name: string;
  points: Array<[number, number]>;
  dashed?: boolean;
}

export interface LinePlotSpec {
  title: string;
  x: string;
  y: string;
  series: Series[];
  yMin?: number;
  yMax?: number;
  hline?: number;
  yFromZero?: boolean;
  /** Log10 y axis (points with y <= 0 are dropped). */
  yLog?: boolean;
  xTicks?: boolean;
}

export interface HBarsSpec {
  title: string;
  unit: string;
  bars: Array<{ label: string; value: number | null; note?: string }>;
}

export type PlotSpec = ({ kind: 'line' } & LinePlotSpec) | ({ kind: 'hbars' } & HBarsSpec);

class Element {
  readonly attrs: Array<[string, string]> = [];
  readonly children: Array<Element | string> = [];
  constructor(readonly name: string) {}
  setAttribute(key: string, value: unknown): void {
    this.attrs.push([key, String(value)]);
  }
  appendChild(child: Element | string): void {
    this.children.push(child);
  }
  set textContent(text: string) {
    this.children.length = 0;
    this.children.push(text);
  }
  serialize(): string {
    const attrs = this.attrs.map(([k, v]) => ` ${k}="${escapeXml(v)}"`).join('');
    const inner = this.children.map((c) => (typeof c === 'string' ? escapeXml(c) : c.serialize())).join('');
    return `<${this.name}${attrs}>${inner}</${this.name}>`;
  }
}

function escapeXml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

type Draw = (host: Element, spec: unknown) => void;

const fakeDocument = {
  createElementNS: (_ns: string, name: string): Element => new Element(name),
  createTextNode: (text: string): string => text,
};

// The page script declares its functions at top level; evaluated once, with `document` bound to
// the builder above.
const draw = new Function('document', `${PLOT_SCRIPT}\nreturn { linePlot, hBars };`)(fakeDocument) as { linePlot: Draw; hBars: Draw };

/** One plot as an SVG document (white background, namespace declared). */
export function renderSvg(spec: PlotSpec): string {
  const host = new Element('div');
  const { kind, ...options } = spec;
  (kind === 'line' ? draw.linePlot : draw.hBars)(host, options);
  const svg = host.children[0];
  if (!(svg instanceof Element)) return `<svg xmlns="http://www.w3.org/2000/svg" width="560" height="40"><text x="8" y="20">${escapeXml(String(svg ?? spec.title))}</text></svg>\n`;
  svg.setAttribute('xmlns', 'http://www.w3.org/2000/svg');
  svg.setAttribute('font-family', 'sans-serif');
  const background = new Element('rect');
  background.setAttribute('width', '100%');
  background.setAttribute('height', '100%');
  background.setAttribute('fill', 'white');
  svg.children.unshift(background);
  return `${svg.serialize()}\n`;
}
