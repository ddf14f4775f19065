/** The seed's hello app, in TypeScript: `nodicorn examples/hello.ts:app`. */
import type { WsgiApp } from '../src/contract/types.js';

const body = new TextEncoder().encode('Hello, WSGI World!');

export const app: WsgiApp = (_environ, startResponse) => {
  startResponse('200 OK', [['Content-Type', 'text/plain']]);
  return [body];
};
