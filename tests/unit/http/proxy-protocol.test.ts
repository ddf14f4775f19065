import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  crc32c,
  PP2_TYPE_CRC32C,
  PP2_TYPE_SSL,
  type ProxyParse,
  parseProxyHeader,
  V2_MAX_LENGTH,
  V2_SIGNATURE,
} from '../../../src/http/proxy-protocol.js';

const bytes = (text: string) => Uint8Array.from(Buffer.from(text, 'latin1'));

function done(result: ProxyParse) {
  assert.equal(result.status, 'done', JSON.stringify(result));
  return result as Extract<ProxyParse, { status: 'done' }>;
}

function invalid(result: ProxyParse, pattern: RegExp) {
  assert.equal(result.status, 'invalid', JSON.stringify(result));
  assert.match((result as Extract<ProxyParse, { status: 'invalid' }>).reason, pattern);
}

/** A v2 header: ver/cmd byte, family/protocol byte, address block, TLVs as [type, bytes] pairs. */
function v2(
  versionCommand: number,
  familyProtocol: number,
  block: number[],
  tlvs: [number, number[]][] = [],
) {
  const tail = [...block];
  for (const [type, value] of tlvs) tail.push(type, value.length >> 8, value.length & 0xff, ...value);
  return Uint8Array.of(
    ...V2_SIGNATURE,
    versionCommand,
    familyProtocol,
    tail.length >> 8,
    tail.length & 0xff,
    ...tail,
  );
}

const inet = [203, 0, 113, 7, 192, 0, 2, 1, 0xdc, 0x04, 0x01, 0xbb]; // 203.0.113.7:56324 → 192.0.2.1:443

test('v1 TCP4 and TCP6: addresses and ports, and the header length (the request follows it)', () => {
  const line = 'PROXY TCP4 203.0.113.7 192.0.2.1 56324 443\r\n';
  const r = done(parseProxyHeader(bytes(`${line}GET / HTTP/1.1\r\n`)));
  assert.equal(r.length, line.length);
  assert.deepEqual(r.header.source, { address: '203.0.113.7', port: 56324 });
  assert.deepEqual(r.header.destination, { address: '192.0.2.1', port: 443 });
  assert.equal(r.header.version, 1);
  const six = done(parseProxyHeader(bytes('PROXY TCP6 2001:db8::7 2001:db8::1 65535 0\r\n')));
  assert.deepEqual(six.header.source, { address: '2001:db8::7', port: 65535 });
  assert.deepEqual(six.header.destination, { address: '2001:db8::1', port: 0 });
});

test('v1 UNKNOWN keeps the real endpoints, whatever follows it on the line', () => {
  for (const line of ['PROXY UNKNOWN\r\n', 'PROXY UNKNOWN ffff:f::1 ffff:f::2 1 2\r\n']) {
    const r = done(parseProxyHeader(bytes(line)));
    assert.equal(r.header.source, null);
    assert.equal(r.length, line.length);
  }
});

test('v1 byte by byte is incomplete until the CRLF, then done', () => {
  const line = bytes('PROXY TCP4 10.0.0.1 10.0.0.2 1 2\r\n');
  for (let i = 1; i < line.length; i++)
    assert.equal(parseProxyHeader(line.subarray(0, i)).status, 'incomplete', `at ${i}`);
  done(parseProxyHeader(line));
});

test('v1 malformed lines are invalid', () => {
  invalid(parseProxyHeader(bytes(`PROXY TCP4 ${'1'.repeat(110)}`)), /longer than 107/);
  invalid(parseProxyHeader(bytes('PROXY TCP4 10.0.0.1 10.0.0.2 1 2\n')), /CRLF/);
  invalid(parseProxyHeader(bytes('PROXY TCP4 10.0.0.1 10.0.0.2 65536 2\r\n')), /bad port/);
  invalid(parseProxyHeader(bytes('PROXY TCP4 10.0.0.1 10.0.0.2 080 2\r\n')), /bad port/);
  invalid(parseProxyHeader(bytes('PROXY TCP4 2001:db8::1 10.0.0.2 1 2\r\n')), /not TCP4/);
  invalid(parseProxyHeader(bytes('PROXY TCP6 10.0.0.1 10.0.0.2 1 2\r\n')), /not TCP6/);
  invalid(parseProxyHeader(bytes('PROXY UDP4 10.0.0.1 10.0.0.2 1 2\r\n')), /unknown PROXY v1 protocol/);
  invalid(parseProxyHeader(bytes('PROXY TCP4  10.0.0.1 10.0.0.2 1 2\r\n')), /malformed/);
  invalid(parseProxyHeader(bytes('PROXY TCP4 10.0.0.1 10.0.0.2 1\r\n')), /malformed/);
});

test('anything else is refused at its first byte: a plain request, TLS, a bad v2 signature', () => {
  invalid(parseProxyHeader(bytes('GET / HTTP/1.1\r\n')), /does not start with a PROXY/);
  invalid(parseProxyHeader(Uint8Array.of(0x16, 0x03, 0x01)), /does not start/);
  invalid(parseProxyHeader(bytes('PROXX')), /does not start/);
  const bad = Uint8Array.from(v2(0x21, 0x11, inet));
  bad[6] = 0x0e;
  invalid(parseProxyHeader(bad), /does not start/);
  assert.equal(parseProxyHeader(bytes('PRO')).status, 'incomplete');
  assert.equal(parseProxyHeader(V2_SIGNATURE.subarray(0, 7)).status, 'incomplete');
});

test('v2 PROXY over INET: source and destination with ports; the length covers the header only', () => {
  const header = v2(0x21, 0x11, inet);
  const r = done(parseProxyHeader(Uint8Array.of(...header, ...bytes('GET / HTTP/1.1\r\n'))));
  assert.equal(r.length, header.length);
  assert.deepEqual(r.header.source, { address: '203.0.113.7', port: 56324 });
  assert.deepEqual(r.header.destination, { address: '192.0.2.1', port: 443 });
  assert.equal(r.header.version, 2);
  for (let i = 1; i < header.length; i++)
    assert.equal(parseProxyHeader(header.subarray(0, i)).status, 'incomplete', `at ${i}`);
});

test('v2 INET6: RFC 5952 text, IPv4-mapped addresses as node:net reports them', () => {
  const src = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7];
  const dst = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1];
  const r = done(parseProxyHeader(v2(0x21, 0x21, [...src, ...dst, 0x04, 0xd2, 0x00, 0x50])));
  assert.deepEqual(r.header.source, { address: '2001:db8::7', port: 1234 });
  assert.deepEqual(r.header.destination, { address: '::ffff:192.0.2.1', port: 80 });
  const loopback = [...Array(15).fill(0), 1];
  const full = [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1]; // one zero run of 2: 2001:db8:1::1:0:1
  const r2 = done(parseProxyHeader(v2(0x21, 0x21, [...loopback, ...full, 0, 1, 0, 2])));
  assert.equal(r2.header.source?.address, '::1');
  assert.equal(r2.header.destination?.address, '2001:db8:1::1:0:1');
});

test('v2 LOCAL, UNSPEC and UNIX keep the real endpoints', () => {
  assert.equal(done(parseProxyHeader(v2(0x20, 0x00, []))).header.source, null);
  assert.equal(done(parseProxyHeader(v2(0x20, 0x11, inet))).header.source, null, 'LOCAL ignores addresses');
  assert.equal(done(parseProxyHeader(v2(0x21, 0x00, []))).header.source, null);
  assert.equal(done(parseProxyHeader(v2(0x21, 0x31, Array(216).fill(0)))).header.source, null);
  // §2.2: LOCAL discards the protocol block, family included: whatever it holds, it is not read.
  const local = done(parseProxyHeader(v2(0x20, 0xff, [0x05, 0x00, 0x09, 1])));
  assert.deepEqual([local.header.source, local.header.tlvs, local.length], [null, [], 20]);
});

test('v2 transport byte: STREAM only (0x00 for UNSPEC); datagrams and undefined values are invalid', () => {
  const block = Array(216).fill(0); // long enough for any family: only the transport byte is at fault
  for (const byte of [0x12, 0x22, 0x32]) invalid(parseProxyHeader(v2(0x21, byte, block)), /datagram/);
  for (const byte of [0x10, 0x13, 0x1f, 0x01, 0x20]) {
    const hex = byte.toString(16).padStart(2, '0');
    invalid(parseProxyHeader(v2(0x21, byte, block)), new RegExp(`transport byte 0x${hex}`));
  }
});

test('v2 TLVs: kept in order; PP2_TYPE_SSL with PP2_CLIENT_SSL means the client spoke TLS', () => {
  const ssl: [number, number[]] = [PP2_TYPE_SSL, [0x01, 0, 0, 0, 0, 0x21, 0, 3, ...bytes('1.3')]];
  const r = done(parseProxyHeader(v2(0x21, 0x11, inet, [[0x01, [...bytes('h2')]], ssl, [0x04, []]])));
  assert.deepEqual(
    r.header.tlvs.map((t) => [t.type, t.value.length]),
    [
      [0x01, 2],
      [PP2_TYPE_SSL, 11],
      [0x04, 0],
    ],
  );
  assert.equal(r.header.clientTls, true);
  const plain = done(parseProxyHeader(v2(0x21, 0x11, inet, [[PP2_TYPE_SSL, [0, 0, 0, 0, 0]]])));
  assert.equal(plain.header.clientTls, false);
});

test('v2 CRC32C: a correct checksum passes, a wrong one is invalid', () => {
  assert.equal(crc32c(bytes('123456789')), 0xe3069283, 'the CRC-32C check value');
  const zeroed = v2(0x21, 0x11, inet, [[PP2_TYPE_CRC32C, [0, 0, 0, 0]]]);
  const sum = crc32c(zeroed);
  const signed = Uint8Array.from(zeroed);
  signed.set([sum >>> 24, (sum >>> 16) & 0xff, (sum >>> 8) & 0xff, sum & 0xff], zeroed.length - 4);
  done(parseProxyHeader(signed));
  signed[signed.length - 1]! ^= 1;
  invalid(parseProxyHeader(signed), /CRC32C/);
});

test('v2 malformed headers are invalid: version, command, family, short blocks, TLV overruns, oversize', () => {
  invalid(parseProxyHeader(v2(0x11, 0x11, inet)), /version 1/);
  invalid(parseProxyHeader(v2(0x22, 0x11, inet)), /unknown command 2/);
  invalid(parseProxyHeader(v2(0x21, 0x41, inet)), /unknown address family 4/);
  invalid(parseProxyHeader(v2(0x21, 0x11, inet.slice(0, 8))), /address block of 8 bytes, 12 needed/);
  invalid(parseProxyHeader(v2(0x21, 0x21, inet)), /address block of 12 bytes, 36 needed/);
  invalid(parseProxyHeader(v2(0x21, 0x11, [...inet, 0x01, 0x00])), /TLV cut short/);
  invalid(parseProxyHeader(v2(0x21, 0x11, [...inet, 0x05, 0x00, 0x09, 1, 2])), /overruns/);
  const huge = Uint8Array.of(...V2_SIGNATURE, 0x21, 0x11, 0xff, 0xff);
  invalid(parseProxyHeader(huge), new RegExp(`65551 bytes \\(at most ${V2_MAX_LENGTH}\\)`));
});
