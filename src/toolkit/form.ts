/**
 * The shapes of a request body read as a form, shared by request.ts (which reads bodies) and multipart.ts
 * (which parses multipart/form-data): types only, so neither imports the other for them.
 */
import type { Bytes } from '../contract/types.js';

export interface RequestLimits {
  /** The largest body read (bytes), whole or as a form; past it, 413. Default 1 MiB. */
  readonly maxBodySize?: number;
  /** The most parts a multipart form may have (fields and files); past it, 413. Default 1000. */
  readonly maxFormParts?: number;
  /** The largest non-file field of a multipart form (bytes); past it, 413. Default 500 000. */
  readonly maxFieldSize?: number;
}

/** A submitted form: its text fields in order, and its files by field name. */
export interface Form {
  readonly fields: URLSearchParams;
  readonly files: ReadonlyMap<string, readonly UploadedFile[]>;
}

/** One uploaded file. */
export interface UploadedFile {
  /** The form field it was sent under. */
  readonly field: string;
  /** The file name the client gave (its path part removed), '' when none. */
  readonly filename: string;
  /** Its declared media type. */
  readonly type: string;
  readonly data: Bytes;
}
