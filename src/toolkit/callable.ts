/**
 * Objects that are WSGI apps themselves, as Werkzeug's responses and HTTP exceptions are: a Response or
 * an HttpError can be returned where an app is expected, mounted, or called as `thing(environ,
 * startResponse)`. A JavaScript object is callable only if it is a function, so the base constructors
 * return a function whose prototype is the subclass's; class fields and methods then live on it.
 */
import type { Environ, ResponseBody, StartResponse } from '../contract/types.js';

type Serve = (environ: Environ, startResponse: StartResponse) => ResponseBody | Promise<ResponseBody>;

function callable(target: abstract new (...args: never[]) => unknown): Serve {
  const app = ((environ, startResponse) =>
    (app as unknown as { serve: Serve }).serve(environ, startResponse)) as Serve;
  // A function's own `name` would hide the class's in messages and stack traces.
  Object.defineProperty(app, 'name', { value: target.name, configurable: true });
  return Object.setPrototypeOf(app, target.prototype) as Serve;
}

/** The call signature every subclass instance has (the constructor returns a function: see above). */
export interface CallableApp extends Serve {}

/** Base of toolkit objects that are WSGI apps (responses, routers). */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the merged call signature is real, made by callable()
export abstract class CallableApp {
  constructor() {
    // biome-ignore lint/correctness/noConstructorReturn: the instance must be a function to be callable
    return callable(new.target) as unknown as CallableApp;
  }

  /** Answers one request; calling the object calls this. */
  abstract serve(environ: Environ, startResponse: StartResponse): ResponseBody | Promise<ResponseBody>;
}
Object.setPrototypeOf(CallableApp.prototype, Function.prototype);

/** The call signature every subclass instance has (the constructor returns a function: see above). */
export interface CallableError extends Serve {}

/** Base of errors that are WSGI apps: thrown like any Error, served like any app. */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the merged call signature is real, made by callable()
export abstract class CallableError {
  declare readonly message: string;
  declare readonly stack?: string;
  constructor(message: string) {
    const app = callable(new.target);
    Object.defineProperty(app, 'message', { value: message, writable: true, configurable: true });
    Error.captureStackTrace(app, new.target);
    // biome-ignore lint/correctness/noConstructorReturn: the instance must be a function to be callable
    return app as unknown as CallableError;
  }

  abstract serve(environ: Environ, startResponse: StartResponse): ResponseBody | Promise<ResponseBody>;
}
Object.setPrototypeOf(CallableError.prototype, Error.prototype);
