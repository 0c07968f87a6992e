/**
 * An SVG line chart of tasks RUNNING over seconds since the burst began, and (dashed) of tasks
 * their agents had been told about.
 */
export const runningChart = (points: number[][], total: number, assigned: number[][] = []): string => {
  const width = 640;
  const height = 320;
  const pad = 40;
  const maxX = Math.max(1, ...points.map((p) => p[0] ?? 0), ...assigned.map((p) => p[0] ?? 0));
  const maxY = Math.max(1, total);
  const x = (v: number) => pad + (v / maxX) * (width - 2 * pad);
  const y = (v: number) => height - pad - (v / maxY) * (height - 2 * pad);
  const pathOf = (line: number[][]) =>
    [[0, 0], ...line]
      .map((p, i) => `${i ? 'L' : 'M'}${x(p[0] ?? 0).toFixed(1)},${y(p[1] ?? 0).toFixed(1)}`)
      .join(' ');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<line x1="${pad}" y1="${height - pad}" x2="${width - pad}" y2="${height - pad}" stroke="black"/>
<line x1="${pad}" y1="${pad}" x2="${pad}" y2="${height - pad}" stroke="black"/>
<text x="${width / 2}" y="${height - 8}" text-anchor="middle">seconds since CreateService (max ${maxX.toFixed(1)} s)</text>
<text x="12" y="${pad - 12}">tasks RUNNING (of ${total})</text>
<path d="${pathOf(assigned)}" fill="none" stroke="#ff7f0e" stroke-width="1.5" stroke-dasharray="5,3"/>
<path d="${pathOf(points)}" fill="none" stroke="#1f77b4" stroke-width="2"/>
<text x="${width - pad}" y="${pad - 12}" text-anchor="end"><tspan fill="#ff7f0e">- - assigned</tspan>  <tspan fill="#1f77b4">— RUNNING</tspan></text>
</svg>
`;
};
