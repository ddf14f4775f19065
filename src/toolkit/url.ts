/** PEP 3333 "URL Reconstruction": the URL a request was made to, from its environ. */
import type { Environ } from '../contract/types.js';
import { quotePath, quoteQuery } from './wsgi-string.js';

export interface UrlOptions {
  /** Include SCRIPT_NAME (the mount point); default true, the URL the client asked for. */
  readonly scriptName?: boolean;
  /** Include the query string; default true. */
  readonly query?: boolean;
}

/** The host part: HTTP_HOST when sent, else SERVER_NAME with SERVER_PORT unless it is the default. */
export function requestHost(environ: Environ): string {
  const host = environ.HTTP_HOST;
  if (typeof host === 'string' && host !== '') return host;
  const scheme = environ['wsgi.url_scheme'];
  const port = environ.SERVER_PORT;
  const defaultPort = (scheme === 'https' && port === '443') || (scheme === 'http' && port === '80');
  return port === '' || defaultPort ? environ.SERVER_NAME : `${environ.SERVER_NAME}:${port}`;
}

export function requestUrl(environ: Environ, options: UrlOptions = {}): string {
  const script = options.scriptName === false ? '' : environ.SCRIPT_NAME;
  const path = quotePath(script + environ.PATH_INFO) || '/';
  const query =
    options.query === false || environ.QUERY_STRING === '' ? '' : `?${quoteQuery(environ.QUERY_STRING)}`;
  return `${environ['wsgi.url_scheme']}://${requestHost(environ)}${path}${query}`;
}
