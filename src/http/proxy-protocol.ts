/**
 * The PROXY protocol (HAProxy's proxy-protocol.txt, versions 1 and 2): the first bytes a proxy sends on a
 * connection, saying whose connection it relays. Sans-I/O: `parseProxyHeader` takes what has arrived so
 * far and says "need more", "invalid" or "done, the header took N bytes". The socket code lives in
 * src/server/proxy-protocol.ts.
 *
 *   v1 (text, at most 107 bytes with the CRLF):
 *     "PROXY TCP4 203.0.113.7 192.0.2.1 56324 443\r\n"     TCP4 | TCP6 addresses, then ports
 *     "PROXY UNKNOWN[ anything]\r\n"                       the real connection endpoints are kept
 *
 *   v2 (binary):
 *     0      12      13        14        16
 *     +-------+-------+---------+---------+--------------------------+---------------+
 *     | sig   | ver + | family +| length  | addresses                | TLVs          |
 *     | 12 B  | cmd   | protocol| u16 BE  | INET 12 / INET6 36 /     | type u8,      |
 *     |       |       |         |         | UNIX 216 bytes           | len u16, value|
 *     +-------+-------+---------+---------+--------------------------+---------------+
 *     sig = \r\n\r\n\0\r\nQUIT\n; ver 2 in the high nibble; cmd 0 LOCAL (keep the real endpoints,
 *     e.g. the proxy's health checks; the rest is discarded) or 1 PROXY; family 1 INET, 2 INET6 (3 UNIX
 *     and 0 UNSPEC keep the real endpoints) in the high nibble, transport 1 STREAM (0 with UNSPEC) in the
 *     low one; addresses are source, destination, source port, destination port.
 */
import { isIP } from 'node:net';

/** What the header said about the relayed connection; `null` addresses mean "keep the real ones". */
export interface ProxyHeader {
  readonly version: 1 | 2;
  /** The client as the proxy saw it, or null (v1 UNKNOWN, v2 LOCAL, UNSPEC or UNIX families). */
  readonly source: { readonly address: string; readonly port: number } | null;
  /** The address the client connected to at the proxy, or null when `source` is. */
  readonly destination: { readonly address: string; readonly port: number } | null;
  /** v2 PP2_TYPE_SSL with PP2_CLIENT_SSL: the client spoke TLS to the proxy. */
  readonly clientTls: boolean;
  /** v2 type-length-value extensions, in order (PP2_TYPE_SSL's sub-TLVs stay inside its value). */
  readonly tlvs: readonly { readonly type: number; readonly value: Uint8Array }[];
}

export type ProxyParse =
  | { readonly status: 'incomplete' }
  | { readonly status: 'invalid'; readonly reason: string }
  | { readonly status: 'done'; readonly header: ProxyHeader; readonly length: number };

const INCOMPLETE: ProxyParse = { status: 'incomplete' };

/** proxy-protocol.txt §2.1: a v1 line is at most 107 bytes, CRLF included. */
export const V1_MAX_LENGTH = 107;
/**
 * The most a v2 header may take here. The format allows 16 + 65535 bytes; the address blocks take at most
 * 216 and HAProxy's own TLVs (ALPN, authority, SSL details, unique id) fit well within this, so anything
 * longer is refused rather than buffered.
 */
export const V2_MAX_LENGTH = 16 + 2048;

export const V2_SIGNATURE = Uint8Array.of(
  0x0d,
  0x0a,
  0x0d,
  0x0a,
  0x00,
  0x0d,
  0x0a,
  0x51,
  0x55,
  0x49,
  0x54,
  0x0a,
);
const V1_PREFIX = Uint8Array.from(Buffer.from('PROXY ', 'latin1'));

export const PP2_TYPE_CRC32C = 0x03;
export const PP2_TYPE_SSL = 0x20;
const PP2_CLIENT_SSL = 0x01;

const invalid = (reason: string): ProxyParse => ({ status: 'invalid', reason });
const LOCAL = (length: number): ProxyParse => ({
  status: 'done',
  length,
  header: { version: 2, source: null, destination: null, clientTls: false, tlvs: [] },
});

/** Whether `data` so far agrees with `prefix` (as far as either goes). */
function agrees(data: Uint8Array, prefix: Uint8Array): boolean {
  const n = Math.min(data.length, prefix.length);
  for (let i = 0; i < n; i++) if (data[i] !== prefix[i]) return false;
  return true;
}

/** Parses the PROXY header at the start of `data` (everything received so far on the connection). */
export function parseProxyHeader(data: Uint8Array): ProxyParse {
  if (data.length === 0) return INCOMPLETE;
  if (agrees(data, V2_SIGNATURE)) return data.length < 16 ? INCOMPLETE : parseV2(data);
  if (agrees(data, V1_PREFIX)) return data.length < V1_PREFIX.length ? INCOMPLETE : parseV1(data);
  return invalid('the connection does not start with a PROXY protocol header');
}

const PORT = /^(0|[1-9]\d{0,4})$/;

function parseV1(data: Uint8Array): ProxyParse {
  const limit = Math.min(data.length, V1_MAX_LENGTH);
  let end = -1;
  for (let i = V1_PREFIX.length; i < limit; i++) {
    if (data[i] === 0x0a) {
      end = i;
      break;
    }
  }
  if (end === -1)
    return data.length >= V1_MAX_LENGTH ? invalid('PROXY v1 line longer than 107 bytes') : INCOMPLETE;
  if (data[end - 1] !== 0x0d) return invalid('PROXY v1 line not ended by CRLF');
  const line = Buffer.from(data.buffer, data.byteOffset, end - 1).toString('latin1');
  const parts = line.split(' ');
  const length = end + 1;
  if (parts[1] === 'UNKNOWN')
    return {
      status: 'done',
      length,
      header: { version: 1, source: null, destination: null, clientTls: false, tlvs: [] },
    };
  if (parts.length !== 6) return invalid(`malformed PROXY v1 line ${JSON.stringify(line)}`);
  const [, proto, src, dst, srcPort, dstPort] = parts as [string, string, string, string, string, string];
  const family = proto === 'TCP4' ? 4 : proto === 'TCP6' ? 6 : 0;
  if (family === 0) return invalid(`unknown PROXY v1 protocol ${JSON.stringify(proto)}`);
  if (isIP(src) !== family || isIP(dst) !== family)
    return invalid(`PROXY v1 addresses are not ${proto}: ${JSON.stringify(line)}`);
  if (!PORT.test(srcPort) || !PORT.test(dstPort) || Number(srcPort) > 65535 || Number(dstPort) > 65535)
    return invalid(`bad port in PROXY v1 line ${JSON.stringify(line)}`);
  return {
    status: 'done',
    length,
    header: {
      version: 1,
      source: { address: src, port: Number(srcPort) },
      destination: { address: dst, port: Number(dstPort) },
      clientTls: false,
      tlvs: [],
    },
  };
}

function parseV2(data: Uint8Array): ProxyParse {
  const versionCommand = data[12]!;
  if (versionCommand >> 4 !== 2) return invalid(`PROXY v2 header with version ${versionCommand >> 4}`);
  const command = versionCommand & 0x0f;
  if (command > 1) return invalid(`PROXY v2 header with unknown command ${command}`);
  const familyProtocol = data[13]!;
  const family = familyProtocol >> 4;
  const length = 16 + ((data[14]! << 8) | data[15]!);
  if (length > V2_MAX_LENGTH) return invalid(`PROXY v2 header of ${length} bytes (at most ${V2_MAX_LENGTH})`);
  if (data.length < length) return INCOMPLETE;
  // §2.2: LOCAL means the proxy itself connected (health checks): the real endpoints stand, and the
  // receiver "must discard the protocol block including the family", so nothing after it is read.
  if (command === 0) return LOCAL(length);
  // §2.2: the defined transport bytes are 0x00 (UNSPEC), 0x1X (INET), 0x2X (INET6), 0x3X (UNIX) with X
  // 1 (STREAM) or 2 (DGRAM); others "must be rejected as invalid". A datagram has no business on a TCP
  // connection either.
  if (family > 3) return invalid(`PROXY v2 header with unknown address family ${family}`);
  const transport = familyProtocol & 0x0f;
  if (transport === 2) return invalid('PROXY v2 header for a datagram (UDP) connection');
  if (transport !== (family === 0 ? 0 : 1))
    return invalid(`PROXY v2 header with transport byte 0x${familyProtocol.toString(16).padStart(2, '0')}`);
  const block = data.subarray(16, length);
  const addressLength = family === 1 ? 12 : family === 2 ? 36 : family === 3 ? 216 : 0;
  if (block.length < addressLength)
    return invalid(`PROXY v2 address block of ${block.length} bytes, ${addressLength} needed`);
  const tlvs = parseTlvs(block.subarray(addressLength));
  if (typeof tlvs === 'string') return invalid(tlvs);
  const crc = tlvs.find((tlv) => tlv.type === PP2_TYPE_CRC32C);
  if (crc !== undefined && !crcMatches(data.subarray(0, length), crc.value))
    return invalid('PROXY v2 header fails its CRC32C checksum');
  const ssl = tlvs.find((tlv) => tlv.type === PP2_TYPE_SSL);
  const clientTls = ssl !== undefined && ssl.value.length >= 5 && (ssl.value[0]! & PP2_CLIENT_SSL) !== 0;
  // §2.2: for UNSPEC the receiver ignores the addresses; a UNIX client of the proxy has none a TCP
  // server could report. The real endpoints stand.
  if (family !== 1 && family !== 2)
    return {
      status: 'done',
      length,
      header: { version: 2, source: null, destination: null, clientTls, tlvs },
    };
  const view = new DataView(block.buffer, block.byteOffset, block.byteLength);
  const addressBytes = family === 1 ? 4 : 16;
  const source = formatAddress(block.subarray(0, addressBytes));
  const destination = formatAddress(block.subarray(addressBytes, 2 * addressBytes));
  return {
    status: 'done',
    length,
    header: {
      version: 2,
      source: { address: source, port: view.getUint16(2 * addressBytes) },
      destination: { address: destination, port: view.getUint16(2 * addressBytes + 2) },
      clientTls,
      tlvs,
    },
  };
}

function parseTlvs(bytes: Uint8Array): ProxyHeader['tlvs'] | string {
  const tlvs: { type: number; value: Uint8Array }[] = [];
  let at = 0;
  while (at < bytes.length) {
    if (bytes.length - at < 3) return 'PROXY v2 TLV cut short';
    const type = bytes[at]!;
    const length = (bytes[at + 1]! << 8) | bytes[at + 2]!;
    if (at + 3 + length > bytes.length) return `PROXY v2 TLV 0x${type.toString(16)} overruns the header`;
    tlvs.push({ type, value: bytes.subarray(at + 3, at + 3 + length) });
    at += 3 + length;
  }
  return tlvs;
}

/** Dotted quad for 4 bytes, RFC 5952 text for 16 (as node:net reports peers: `::ffff:1.2.3.4` stays so). */
function formatAddress(bytes: Uint8Array): string {
  if (bytes.length === 4) return bytes.join('.');
  // IPv4-mapped (RFC 4291 §2.5.5.2): written with the dotted quad, as node:net reports such peers.
  if (bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff)
    return `::ffff:${bytes.subarray(12).join('.')}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  // RFC 5952 §4.2: the longest run (first on a tie) of two or more zero groups becomes "::".
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  if (bestStart === -1) return groups.join(':');
  const head = groups.slice(0, bestStart).join(':');
  const tail = groups.slice(bestStart + bestLength).join(':');
  return `${head}::${tail}`;
}

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC32C (Castagnoli), as PP2_TYPE_CRC32C carries it. */
export function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = CRC32C_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** §2.2.5: the checksum is over the whole header with the checksum's own four bytes zeroed. */
function crcMatches(header: Uint8Array, value: Uint8Array): boolean {
  if (value.length !== 4) return false;
  const copy = Uint8Array.from(header);
  const at = value.byteOffset - header.byteOffset;
  copy.fill(0, at, at + 4);
  const expected = ((value[0]! << 24) | (value[1]! << 16) | (value[2]! << 8) | value[3]!) >>> 0;
  return crc32c(copy) === expected;
}
