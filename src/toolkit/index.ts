/** `nodicorn/toolkit`: writing TypeScript WSGI apps — request and response views, routing, middleware. */
export { CallableApp } from './callable.js';
export { acceptsGzip, type GzipOptions, gzip } from './gzip.js';
export { Headers, type HeadersInit } from './headers.js';
export {
  BadRequest,
  ContentTooLarge,
  Forbidden,
  HttpError,
  type HttpErrorOptions,
  isHttpError,
  MethodNotAllowed,
  NotFound,
  PreconditionFailed,
  RangeNotSatisfiable,
  serveHttpErrors,
  UnsupportedMediaType,
} from './http-errors.js';
export { compose, type Middleware } from './middleware.js';
export { mount } from './mount.js';
export {
  DEFAULT_LIMITS,
  type Form,
  Request,
  RequestHeaders,
  type RequestLimits,
  ROUTE_PARAMS,
  type UploadedFile,
} from './request.js';
export { type BodyInit, type CookieOptions, Response, type ResponseInit } from './response.js';
export { compilePattern, type Handler, type Params, Router, type RouterOptions } from './router.js';
export {
  type ByteRange,
  parseRange,
  type RangeSet,
  resolveStatic,
  type StaticOptions,
  staticApp,
  staticFiles,
} from './static.js';
export { fromWsgi, toWsgi, wsgiBytes } from './wsgi-string.js';
