/** A strict reader of Prometheus text format 0.0.4 for tests: every line a comment or a sample. */
import assert from 'node:assert/strict';
import type { RunningNodicorn } from './server.js';

export function parsePrometheus(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.trimEnd().split('\n')) {
    if (line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
    const m =
      /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*")*\})?) (-?[0-9.e+]+|\+Inf|NaN)$/.exec(
        line,
      );
    assert.ok(m !== null, `not Prometheus text format: ${JSON.stringify(line)}`);
    samples.set(m[1]!, Number(m[2]));
  }
  return samples;
}

/** The port of the --metrics-bind server, from its ready line. */
export async function metricsPort(server: RunningNodicorn): Promise<number> {
  const line = /Listening at: http:\/\/127\.0\.0\.1:(\d+)\/metrics/;
  await server.waitForLog(line);
  return Number(line.exec(server.log())![1]);
}
