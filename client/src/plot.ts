/**
 * A small live line chart on a canvas: one or more series against the step. The canvas is drawn
 * at the size it is shown (CSS pixels times the device's pixel ratio), so labels keep their size
 * on a phone instead of shrinking with a wide canvas scaled down.
 */

/** Size of every label, in CSS pixels; `data-label-px` on the canvas says it to tests. */
export const LABEL_PX = 12;
export interface Series {
  label: string;
  color: string;
  points: Array<[number, number]>;
}

export class LinePlot {
  private readonly ctx: CanvasRenderingContext2D;
  /**
   * The canvas's shown size, as layout last reported it. Reading clientWidth in draw() instead
   * forced a layout of the page on every redraw, after the status text above had changed.
   */
  private shown: { w: number; h: number } | undefined;
  private last: Series[] = [];

  constructor(
    readonly canvas: HTMLCanvasElement,
    private readonly title: string,
    private readonly format: (v: number) => string,
    /** Start the y axis at zero (for counts such as bytes). */
    private readonly options: { fromZero?: boolean } = {},
  ) {
    this.ctx = canvas.getContext('2d')!;
    new ResizeObserver((entries) => {
      const { width, height } = entries[entries.length - 1]!.contentRect;
      // Hidden or not laid out yet: no shown size.
      this.shown = width > 0 && height > 0 ? { w: width, h: height } : undefined;
      this.draw(this.last);
    }).observe(canvas);
  }

  draw(series: Series[]): void {
    this.last = series;
    const { ctx, canvas } = this;
    const { w, h } = this.fit();
    const pad = { left: 56, right: 10, top: 22, bottom: 22 };
    ctx.clearRect(0, 0, w, h);
    ctx.font = `${LABEL_PX}px system-ui, sans-serif`;
    canvas.dataset.labelPx = String(LABEL_PX);
    ctx.fillStyle = '#222';
    ctx.fillText(this.title, pad.left, 14);
    const all = series.flatMap((s) => s.points);
    if (all.length === 0) {
      ctx.fillStyle = '#888';
      ctx.fillText('waiting for the first step…', pad.left, h / 2);
      return;
    }
    const xs = all.map((p) => p[0]);
    const ys = all.map((p) => p[1]);
    const [x0, x1] = [Math.min(...xs), Math.max(...xs, Math.min(...xs) + 1)];
    let [y0, y1] = [this.options.fromZero ? 0 : Math.min(...ys), Math.max(...ys)];
    if (y1 - y0 < 1e-9) [y0, y1] = [y0 - 0.5, y1 + 0.5];
    const px = (x: number): number => pad.left + ((x - x0) / (x1 - x0)) * (w - pad.left - pad.right);
    const py = (y: number): number => h - pad.bottom - ((y - y0) / (y1 - y0)) * (h - pad.top - pad.bottom);
    ctx.strokeStyle = '#ccc';
    ctx.beginPath();
    ctx.moveTo(pad.left, pad.top);
    ctx.lineTo(pad.left, h - pad.bottom);
    ctx.lineTo(w - pad.right, h - pad.bottom);
    ctx.stroke();
    ctx.fillStyle = '#555';
    ctx.fillText(this.format(y1), 2, pad.top + 4);
    ctx.fillText(this.format(y0), 2, h - pad.bottom);
    ctx.fillText(`step ${x0}`, pad.left, h - 6);
    ctx.fillText(`${x1}`, w - pad.right - 30, h - 6);
    // On a narrow screen the legend goes below the title, inside the plot's top right corner.
    const legendY = pad.left + ctx.measureText(this.title).width + 130 <= w ? 14 : pad.top + 12;
    series.forEach((s, i) => {
      ctx.strokeStyle = s.color;
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      s.points.forEach(([x, y], j) => (j === 0 ? ctx.moveTo(px(x), py(y)) : ctx.lineTo(px(x), py(y))));
      ctx.stroke();
      ctx.fillStyle = s.color;
      if (series.length > 1) ctx.fillText(s.label, w - pad.right - 120 + i * 60, legendY);
    });
  }

  /** Sizes the canvas's pixels to its shown size and draws in CSS pixels; returns that size. */
  private fit(): { w: number; h: number } {
    const { canvas, ctx } = this;
    const ratio = globalThis.devicePixelRatio || 1;
    // Before layout (or hidden) it has no shown size: keep the attributes' size.
    const w = this.shown?.w ?? canvas.width / ratio;
    const h = this.shown?.h ?? canvas.height / ratio;
    const [pw, ph] = [Math.round(w * ratio), Math.round(h * ratio)];
    if (canvas.width !== pw || canvas.height !== ph) [canvas.width, canvas.height] = [pw, ph];
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    return { w, h };
  }
}
