// A small force-directed layout (after Fruchterman and Reingold, 1991): every pair of nodes repels,
// every edge pulls its ends together, a weak pull keeps the picture centred, and the step size cools
// down. Deterministic: nodes start on a circle in the order given, so the same graph draws the same.

/**
 * Place nodes ({x, y} are set) inside width x height, keeping `margin` free at the borders.
 * edges: [{a: nodeIndex, b: nodeIndex}]
 */
export function forceLayout(nodes, edges, width, height, { iterations = 300, margin = 40 } = {}) {
  const n = nodes.length;
  const cx = width / 2;
  const cy = height / 2;
  if (n === 0) return;
  if (n === 1) {
    nodes[0].x = cx;
    nodes[0].y = cy;
    return;
  }
  const k = Math.sqrt(((width - 2 * margin) * (height - 2 * margin)) / n) * 0.8;  // the ideal edge length
  nodes.forEach((node, i) => {
    const angle = (2 * Math.PI * i) / n;
    node.x = cx + (width / 3) * Math.cos(angle);
    node.y = cy + (height / 3) * Math.sin(angle);
  });
  const dx = new Float64Array(n);
  const dy = new Float64Array(n);
  let temperature = width / 8;
  for (let step = 0; step < iterations; step += 1) {
    dx.fill(0);
    dy.fill(0);
    for (let i = 0; i < n; i += 1) {
      for (let j = i + 1; j < n; j += 1) {
        const x = nodes[i].x - nodes[j].x;
        const y = nodes[i].y - nodes[j].y;
        const d = Math.max(Math.hypot(x, y), 0.01);
        const push = (k * k) / d;
        dx[i] += (x / d) * push; dy[i] += (y / d) * push;
        dx[j] -= (x / d) * push; dy[j] -= (y / d) * push;
      }
    }
    for (const { a, b } of edges) {
      if (a === b) continue;
      const x = nodes[a].x - nodes[b].x;
      const y = nodes[a].y - nodes[b].y;
      const d = Math.max(Math.hypot(x, y), 0.01);
      const pull = (d * d) / k;
      dx[a] -= (x / d) * pull; dy[a] -= (y / d) * pull;
      dx[b] += (x / d) * pull; dy[b] += (y / d) * pull;
    }
    for (let i = 0; i < n; i += 1) {
      dx[i] -= (nodes[i].x - cx) * 0.05 * (k / 50);
      dy[i] -= (nodes[i].y - cy) * 0.05 * (k / 50);
      const length = Math.max(Math.hypot(dx[i], dy[i]), 0.01);
      const move = Math.min(length, temperature);
      nodes[i].x = clamp(nodes[i].x + (dx[i] / length) * move, margin, width - margin);
      nodes[i].y = clamp(nodes[i].y + (dy[i] / length) * move, margin, height - margin);
    }
    temperature = Math.max(temperature * 0.97, 0.5);
  }
}

export function clamp(value, low, high) {
  return Math.min(Math.max(value, low), high);
}
