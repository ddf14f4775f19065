/**
 * The echo app: answers with the environ it saw (every string, boolean and version value) and the request
 * body, as JSON. Tests use it to see exactly what an app receives; its Python twin is examples/echo.py.
 */
import type { Environ, WsgiApp } from '../src/contract/types.js';

export function environSnapshot(environ: Environ): Record<string, unknown> {
  const seen: Record<string, unknown> = {};
  for (const key of Object.keys(environ).sort()) {
    const value = environ[key];
    if (typeof value === 'string' || typeof value === 'boolean') seen[key] = value;
    else if (key === 'wsgi.version') seen[key] = [...(value as readonly number[])];
  }
  return seen;
}

export const app: WsgiApp = async (environ, startResponse) => {
  const body = await environ['wsgi.input'].read();
  const json = JSON.stringify({
    environ: environSnapshot(environ),
    body: Buffer.from(body).toString('latin1'),
  });
  // ASCII-only JSON, like Python's json.dumps: the two echo apps answer alike, byte for byte.
  const reply = json.replace(
    /[\u0080-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  startResponse('200 OK', [['Content-Type', 'application/json']]);
  return [Buffer.from(reply, 'latin1')];
};

export default app;
