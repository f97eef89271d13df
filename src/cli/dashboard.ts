/**
 * `tinyzero dashboard --run DIR [--port P] [--poll-ms MS]`: serves the dashboard for a run folder
 * (its metrics.jsonl and events.jsonl) on http://127.0.0.1:P/, following the files while another
 * process trains. Runs until Ctrl-C.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { intOption, parseArgs, stringOption } from './args.js';
import type { Command } from './command.js';
import { formatUsage } from './usage.js';
import { DashboardServer, FileMetricsLog, METRICS_FILE, RunFolderWatcher } from '../tracking/index.js';

export const DEFAULT_DASHBOARD_PORT = 6060;

const spec = {
  run: { type: 'string' as const, help: 'run folder holding metrics.jsonl (trainer.default_local_dir)' },
  port: { type: 'string' as const, help: `port on 127.0.0.1 (default ${DEFAULT_DASHBOARD_PORT}; 0 = any free port)` },
  'poll-ms': { type: 'string' as const, help: 'how often to read new lines (default 1000)' },
};

export const dashboardCommand: Command = {
  summary: 'serve a live dashboard (charts, samples) for a run folder on 127.0.0.1',
  usage: formatUsage({
    synopsis: ['tinyzero dashboard --run DIR [--port P] [--poll-ms MS]'],
    description: 'Serves live charts of a run folder\'s metrics and sampled responses on http://127.0.0.1:P/, following ' +
      'the files while another process trains. Runs until Ctrl-C.',
    options: spec,
    notes: ['example: tinyzero dashboard --run checkpoints/TinyZero/countdown-tiny'],
  }),
  async run(args: string[]): Promise<number> {
    const parsed = parseArgs(args, spec, 'dashboard');
    const runDir = stringOption(parsed, 'run');
    if (!runDir) throw new Error('dashboard: --run DIR is required (the run folder with metrics.jsonl)');
    if (!existsSync(runDir) || !statSync(runDir).isDirectory()) throw new Error(`dashboard: run folder '${runDir}' does not exist`);
    const port = intOption(parsed, 'port', DEFAULT_DASHBOARD_PORT, 'dashboard');
    const pollMs = intOption(parsed, 'poll-ms', 1000, 'dashboard');
    if (port < 0 || port > 65535) throw new Error(`dashboard: option '--port' must be 0..65535, got ${port}`);
    if (pollMs < 10) throw new Error(`dashboard: option '--poll-ms' must be at least 10, got ${pollMs}`);

    const server = await DashboardServer.start({ port, title: basename(resolve(runDir)), keepAlive: true, metrics: new FileMetricsLog(join(runDir, METRICS_FILE)) });
    const watcher = new RunFolderWatcher(runDir, server, (m) => console.error(`dashboard: ${m}`));
    const steps = watcher.poll();
    watcher.start(pollMs);
    console.error(`dashboard: ${server.url} (run ${runDir}, ${steps} steps so far; Ctrl-C to stop)`);
    await new Promise<void>((done) => {
      const stop = (): void => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        done();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    watcher.stop();
    await server.close();
    return 0;
  },
};
