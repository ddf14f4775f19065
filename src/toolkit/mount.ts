/**
 * Mounting apps under path prefixes, as Werkzeug's DispatcherMiddleware does: the longest mounted prefix
 * of PATH_INFO (on segment boundaries) picks the app, and that prefix moves from PATH_INFO to the end of
 * SCRIPT_NAME (PEP 3333: SCRIPT_NAME is where the app is mounted, PATH_INFO the rest). A request under no
 * prefix goes to the wrapped app, unchanged.
 *
 *   mount({ '/api': api, '/admin': admin })(site)
 */
import type { WsgiApp } from '../contract/types.js';
import type { Middleware } from './middleware.js';
import { toWsgi } from './wsgi-string.js';

export function mount(apps: Readonly<Record<string, WsgiApp>>): Middleware {
  const mounts = new Map<string, WsgiApp>();
  for (const [prefix, app] of Object.entries(apps)) {
    if (!prefix.startsWith('/') || prefix.endsWith('/'))
      throw new SyntaxError(`mount prefix ${JSON.stringify(prefix)} must start with / and not end with /`);
    // Prefixes are text; PATH_INFO holds bytes as latin-1 characters.
    mounts.set(toWsgi(prefix), app);
  }
  return (fallback) => (environ, startResponse) => {
    const pathInfo = environ.PATH_INFO;
    let script = pathInfo;
    let rest = '';
    for (;;) {
      const app = mounts.get(script);
      if (app !== undefined) {
        environ.SCRIPT_NAME += script;
        environ.PATH_INFO = rest;
        return app(environ, startResponse);
      }
      const slash = script.lastIndexOf('/');
      if (slash <= 0) return fallback(environ, startResponse);
      rest = script.slice(slash) + rest;
      script = script.slice(0, slash);
    }
  };
}
