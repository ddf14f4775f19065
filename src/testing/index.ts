/** `nodicorn/testing`: call WSGI apps without a server. */
export { buildTestEnviron, type RequestOptions, request, type TestResponse } from './client.js';
