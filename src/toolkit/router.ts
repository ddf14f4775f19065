/**
 * A small router: a method and a path pattern to a handler. Patterns are literal segments, `:name`
 * (one segment) and a final `*name` (the rest of the path, possibly empty). A path that matches no
 * pattern gets 404; one that matches only under other methods gets 405 with Allow (RFC 9110 §15.5.6).
 * HEAD is served by GET routes, and OPTIONS is answered with Allow unless a route handles it.
 *
 * A handler gets a Request (its `params` are the route's) and returns any WSGI app, a Response most
 * often; an HttpError it throws is served as the answer. Routes match PATH_INFO, so a router mounted
 * under a prefix sees paths below it.
 */
import type { Environ, ResponseBody, StartResponse, WsgiApp } from '../contract/types.js';
import { CallableApp } from './callable.js';
import { MethodNotAllowed, NotFound, serveHttpErrors } from './http-errors.js';
import { Request, type RequestLimits, ROUTE_PARAMS } from './request.js';
import { Response } from './response.js';

export type Params = Readonly<Record<string, string>>;

export type Handler = (request: Request) => WsgiApp | Promise<WsgiApp>;

interface Route {
  readonly methods: ReadonlySet<string> | null;
  readonly pattern: string;
  readonly match: (path: string) => Params | null;
  readonly handler: Handler;
}

/** Compiles a pattern into a matcher over decoded path text; throws on a malformed pattern. */
export function compilePattern(pattern: string): (path: string) => Params | null {
  if (!pattern.startsWith('/'))
    throw new SyntaxError(`route pattern ${JSON.stringify(pattern)} must start with /`);
  const names: string[] = [];
  const segments = pattern.slice(1).split('/');
  let source = '';
  segments.forEach((segment, i) => {
    if (segment.startsWith(':') || segment.startsWith('*')) {
      const name = segment.slice(1);
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) || names.includes(name))
        throw new SyntaxError(
          `route pattern ${JSON.stringify(pattern)}: bad parameter ${JSON.stringify(segment)}`,
        );
      names.push(name);
      if (segment.startsWith('*')) {
        if (i !== segments.length - 1)
          throw new SyntaxError(
            `route pattern ${JSON.stringify(pattern)}: *${name} must be the last segment`,
          );
        source += '(?:/(.*))?';
      } else source += '/([^/]+)';
    } else source += `/${segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`;
  });
  const regex = new RegExp(`^${source}$`);
  return (path) => {
    const m = regex.exec(path);
    if (m === null) return null;
    const params: Record<string, string> = {};
    names.forEach((name, i) => {
      params[name] = m[i + 1] ?? '';
    });
    return params;
  };
}

export interface RouterOptions {
  /** Limits for the Requests handlers get (body size, form parts). */
  readonly limits?: RequestLimits;
}

export class Router extends CallableApp {
  readonly #routes: Route[] = [];
  readonly #limits: RequestLimits;

  constructor(options: RouterOptions = {}) {
    super();
    this.#limits = options.limits ?? {};
  }

  /** Adds a route for `methods` (`'*'` for any method). Routes are tried in the order they were added. */
  route(methods: string | readonly string[], pattern: string, handler: Handler): this {
    const list = typeof methods === 'string' ? [methods] : methods;
    const set = list.includes('*') ? null : new Set(list.map((m) => m.toUpperCase()));
    this.#routes.push({ methods: set, pattern, match: compilePattern(pattern), handler });
    return this;
  }

  get(pattern: string, handler: Handler): this {
    return this.route('GET', pattern, handler);
  }
  post(pattern: string, handler: Handler): this {
    return this.route('POST', pattern, handler);
  }
  put(pattern: string, handler: Handler): this {
    return this.route('PUT', pattern, handler);
  }
  patch(pattern: string, handler: Handler): this {
    return this.route('PATCH', pattern, handler);
  }
  delete(pattern: string, handler: Handler): this {
    return this.route('DELETE', pattern, handler);
  }

  readonly #serve = serveHttpErrors(async (environ, startResponse) =>
    (await this.#dispatch(environ))(environ, startResponse),
  );

  serve(environ: Environ, startResponse: StartResponse): Promise<ResponseBody> {
    return this.#serve(environ, startResponse) as Promise<ResponseBody>;
  }

  async #dispatch(environ: Environ): Promise<WsgiApp> {
    const request = new Request(environ, this.#limits);
    const path = request.path;
    const method = environ.REQUEST_METHOD;
    const allowed = new Set<string>();
    for (const route of this.#routes) {
      const params = route.match(path);
      if (params === null) continue;
      const methods = route.methods;
      if (methods === null || methods.has(method) || (method === 'HEAD' && methods.has('GET'))) {
        environ[ROUTE_PARAMS] = params;
        return route.handler(request);
      }
      for (const m of methods) allowed.add(m);
    }
    if (allowed.size === 0) throw new NotFound();
    if (allowed.has('GET')) allowed.add('HEAD');
    allowed.add('OPTIONS');
    const allow = [...allowed].sort();
    if (method === 'OPTIONS')
      return new Response(null, { status: 204, headers: [['Allow', allow.join(', ')]] });
    throw new MethodNotAllowed(allow);
  }
}
