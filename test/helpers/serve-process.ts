/**
 * `tinyzero serve` in a child process on a free port of 127.0.0.1, for tests that need a real
 * inference server: each server holds its own backend (in-process servers would share the tensor
 * runtime's one global backend with the trainer), and killing the process is a real server failure.
 */
import { spawn, type ChildProcess } from 'node:child_process';

const cli = new URL('../../src/cli/main.js', import.meta.url).pathname;

export interface ServeProcess {
  url: string;
  child: ChildProcess;
  /** What the server wrote to stderr so far. */
  output(): string;
  /** SIGKILL: the server dies without answering anything in flight. */
  kill(): Promise<void>;
}

export async function startServeProcess(modelDir: string, args: string[] = []): Promise<ServeProcess> {
  const child = spawn(process.execPath, [cli, 'serve', '--model', modelDir, '--port', '0', '--threads', '1', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let text = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tinyzero serve did not start within 60 s:\n${text}`)), 60_000);
    child.stderr!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const m = / on (http:\/\/127\.0\.0\.1:\d+) /.exec(text);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`tinyzero serve exited (${code}) before listening:\n${text}`));
    });
  });
  return {
    url, child, output: () => text,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
