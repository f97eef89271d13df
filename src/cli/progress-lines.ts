/**
 * Progress for a long loop as plain lines on stderr (they stay readable in a log file, unlike a
 * line redrawn with \r): at most one line per `everyMs` and one at the end, with the count, the
 * share done and the time left at the pace so far.
 */
export function progressLines(label: string, write: (line: string) => void = (l) => process.stderr.write(l), everyMs = 5000): (done: number, total: number) => void {
  const t0 = performance.now();
  let last = t0;
  return (done, total) => {
    const now = performance.now();
    if (done < total && now - last < everyMs) return;
    last = now;
    const seconds = (now - t0) / 1000;
    const eta = done > 0 ? (seconds / done) * (total - done) : NaN;
    const pct = total > 0 ? ((100 * done) / total).toFixed(0) : '100';
    write(`${label}: ${done.toLocaleString('en-US')}/${total.toLocaleString('en-US')} (${pct}%), ${seconds.toFixed(0)} s` +
      `${done < total && Number.isFinite(eta) ? `, about ${eta.toFixed(0)} s left` : ''}\n`);
  };
}
