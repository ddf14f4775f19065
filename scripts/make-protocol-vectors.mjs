// Writes tests/fixtures/protocol-vectors.json from the TypeScript codec. Run once when the protocol changes,
// read the diff, commit it: both codecs' tests then hold each other to these bytes.
import { writeFileSync } from 'node:fs';
import {
  BODY,
  CREDIT,
  END,
  encodeFrame,
  encodeHead,
  encodeRequest,
  FAIL,
  HEAD,
  WHOLE,
} from '../dist/src/bridge/protocol.js';

const every = Array.from({ length: 256 }, (_, i) => String.fromCharCode(i)).join('');
const requests = [
  {
    name: 'GET, no body',
    id: 1,
    environ: { REQUEST_METHOD: 'GET', PATH_INFO: '/', QUERY_STRING: '' },
    body: null,
  },
  {
    name: 'POST with a body',
    id: 0xfffffffe,
    environ: { REQUEST_METHOD: 'POST', PATH_INFO: '/caf\u00c3\u00a9', CONTENT_LENGTH: '5', HTTP_X_EMPTY: '' },
    body: Buffer.from('hello'),
  },
  {
    name: 'every byte value in PATH_INFO (NUL goes to the binary section)',
    id: 3,
    environ: { REQUEST_METHOD: 'GET', PATH_INFO: every },
    body: Buffer.from([0, 255, 10]),
  },
  { name: 'body in a file', id: 4, environ: { REQUEST_METHOD: 'PUT' }, body: '/tmp/nodicorn-body-x/body' },
];
const heads = [
  {
    name: 'status and two headers',
    status: '200 OK',
    headers: [
      ['Content-Type', 'text/plain'],
      ['Set-Cookie', 'a=1; Path=/'],
    ],
  },
  { name: 'no headers, latin-1 reason', status: '404 Nicht gef\u00fcnden', headers: [] },
];
const hex = (b) => Buffer.from(b).toString('hex');
const headPayload = (h) => encodeHead(h.status, h.headers);
const whole = Buffer.concat([Buffer.alloc(4), headPayload(heads[0]), Buffer.from('hi')]);
whole.writeUInt32BE(headPayload(heads[0]).length, 0);
const vectors = {
  requests: requests.map((r) => ({
    name: r.name,
    id: r.id,
    environ: r.environ,
    body_hex: r.body === null || typeof r.body === 'string' ? null : hex(r.body),
    body_file: typeof r.body === 'string' ? r.body : null,
    frame_hex: hex(encodeRequest(r.id, r.environ, r.body)),
  })),
  heads: heads.map((h) => ({ ...h, payload_hex: hex(headPayload(h)) })),
  frames: [
    { name: 'CREDIT', type: CREDIT, id: 9, payload_hex: '00080000' },
    { name: 'HEAD', type: HEAD, id: 9, payload_hex: hex(headPayload(heads[0])) },
    { name: 'BODY', type: BODY, id: 9, payload_hex: hex('chunk') },
    { name: 'END', type: END, id: 9, payload_hex: '' },
    { name: 'WHOLE', type: WHOLE, id: 10, payload_hex: hex(whole) },
    { name: 'FAIL', type: FAIL, id: 11, payload_hex: hex('Traceback\n') },
  ].map((f) => ({ ...f, frame_hex: hex(encodeFrame(f.type, f.id, Buffer.from(f.payload_hex, 'hex'))) })),
};
writeFileSync(
  new URL('../tests/fixtures/protocol-vectors.json', import.meta.url),
  `${JSON.stringify(vectors, null, 2)}\n`,
);
