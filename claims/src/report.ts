/** docs/CLAIMS.md and its SVG plots from the experiments' reports. */
import { renderSvg } from '@tabswarm/swarm/svg';
import type { ExperimentReport } from './experiment.ts';

export interface ReportFiles {
  /** Path relative to docs/ -> content. */
  files: Map<string, string>;
}

/** Plots go to docs/claims/<experiment>-<plot>.svg, linked from the Markdown. */
export function buildReport(reports: ExperimentReport[]): ReportFiles {
  const files = new Map<string, string>();
  const table = reports.map((r) => `| [${r.title}](#${anchor(r.title)}) | **${r.verdict}** | ${r.keyFigure} |`).join('\n');
  const sections = reports.map((r) => {
    const plots = r.plots.map((p) => {
      const path = `claims/${r.id}-${p.name}.svg`;
      files.set(path, renderSvg(p.spec));
      return `![${p.spec.title}](${path})`;
    });
    return [
      `## ${r.title}`,
      `**Claim.** ${r.claim}`,
      `**Source.** ${r.source}`,
      `**Setup.** ${r.setup}`,
      `**Verdict: ${r.verdict}.** ${r.keyFigure}.`,
      r.body,
      plots.join('\n'),
    ].join('\n\n');
  });
  const md = `# The papers' claims, reproduced with tabswarm's own code

Written by \`npm run claims\` (claims/src/cli.ts; do not edit by hand): five experiments that run the
project's codecs, aggregators and optimizers in Node, on the simulated collective of
\`@tabswarm/shared/testing\` (the tabs are not needed). Every random choice is seeded, so a run
reproduces these figures exactly; the noise a figure carries is stated with it (seeds averaged,
or one seeded run). A claim the figures contradict is reported as such, with what was tried.
\`claims/src/claims.test.ts\` runs a shortened version of each experiment and asserts its
direction.

| experiment | verdict | the deciding figure |
|---|---|---|
${table}

${sections.join('\n\n')}
`;
  files.set('CLAIMS.md', md);
  return { files };
}

/** GitHub's heading anchor. */
function anchor(title: string): string {
  return title.toLowerCase().replace(/[^a-z0-9 -]/g, '').replace(/ /g, '-');
}
