/**
 * multipart/form-data (RFC 7578) read from `wsgi.input` with @fastify/busboy, within limits: the whole
 * body, the number of parts and the size of each text field. Files are kept in memory (the body limit
 * bounds them); an app expecting large uploads raises `maxBodySize` or reads `wsgi.input` itself.
 */
import { Busboy, type BusboyFileStream } from '@fastify/busboy';
import type { Bytes, WsgiInput } from '../contract/types.js';
import type { Form, RequestLimits, UploadedFile } from './form.js';
import { BadRequest, ContentTooLarge } from './http-errors.js';

export async function readMultipart(
  input: WsgiInput,
  contentType: string,
  limits: Required<RequestLimits>,
): Promise<Form> {
  const fields = new URLSearchParams();
  const files = new Map<string, UploadedFile[]>();
  let failure: Error | null = null;
  const fail = (error: Error) => {
    failure ??= error;
  };
  let parser: ReturnType<typeof Busboy>;
  try {
    parser = Busboy({
      headers: { 'content-type': contentType },
      limits: { parts: limits.maxFormParts, fieldSize: limits.maxFieldSize, fileSize: limits.maxBodySize },
    });
  } catch (error) {
    throw new BadRequest(`malformed multipart Content-Type: ${(error as Error).message}`);
  }
  const pending: Promise<void>[] = [];
  parser.on('field', (name, value, _nameTruncated, valueTruncated) => {
    if (valueTruncated)
      fail(new ContentTooLarge(`form field ${JSON.stringify(name)} is over ${limits.maxFieldSize} bytes`));
    else fields.append(name, value);
  });
  parser.on('file', (field, stream: BusboyFileStream, filename, _encoding, type) => {
    pending.push(
      collect(stream).then((data) => {
        const list = files.get(field) ?? [];
        list.push({ field, filename, type, data });
        files.set(field, list);
      }, fail),
    );
  });
  parser.on('partsLimit', () =>
    fail(new ContentTooLarge(`the form has more than ${limits.maxFormParts} parts`)),
  );
  const finished = new Promise<void>((resolve) => {
    parser.on('finish', resolve);
    parser.on('error', (error) => {
      fail(new BadRequest(`malformed multipart body: ${(error as Error).message}`));
      resolve();
    });
  });

  let total = 0;
  while (failure === null) {
    const chunk = await input.read(64 * 1024);
    if (chunk.byteLength === 0) break;
    total += chunk.byteLength;
    if (total > limits.maxBodySize) {
      fail(new ContentTooLarge(`the body is larger than ${limits.maxBodySize} bytes`));
      break;
    }
    if (!parser.write(chunk)) await new Promise((resolve) => parser.once('drain', resolve));
  }
  if (failure !== null) {
    parser.destroy();
    throw failure;
  }
  parser.end();
  await finished;
  await Promise.all(pending);
  if (failure !== null) throw failure;
  return { fields, files };
}

async function collect(stream: BusboyFileStream): Promise<Bytes> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
