/**
 * Middleware is PEP 3333's: an app that wraps an app. Here a middleware is a function from the app it
 * wraps to the app it makes, and `compose(a, b, c)(app)` is `a(b(c(app)))`: the first one listed sees
 * the request first and the response last.
 */
import type { WsgiApp } from '../contract/types.js';

export type Middleware = (app: WsgiApp) => WsgiApp;

export function compose(...middlewares: readonly Middleware[]): Middleware {
  return (app) => middlewares.reduceRight((inner, middleware) => middleware(inner), app);
}
