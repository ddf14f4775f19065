/** What a connection tells the environ, and what it costs to learn it. */
import assert from 'node:assert/strict';
import { connect, createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { boundAddress, connectionFacts } from '../../../src/server/connection-facts.js';

test('boundAddress: one address is kept, a wildcard or a Unix socket is not', () => {
  assert.deepEqual(boundAddress({ address: '127.0.0.1', family: 'IPv4', port: 8000 }), {
    name: '127.0.0.1',
    port: '8000',
  });
  assert.deepEqual(boundAddress({ address: '::1', family: 'IPv6', port: 80 }), { name: '::1', port: '80' });
  assert.equal(boundAddress({ address: '0.0.0.0', family: 'IPv4', port: 8000 }), null);
  assert.equal(boundAddress({ address: '::', family: 'IPv6', port: 8000 }), null);
  assert.equal(boundAddress('/tmp/app.sock'), null);
  assert.equal(boundAddress(null), null);
});

/** A real accepted socket, with a count of the getsockname() calls node:net makes for it. */
async function acceptedSocket(
  host: string,
): Promise<{ socket: Socket; sockname: () => number; done(): void }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
  const client = connect((server.address() as { port: number }).port, '127.0.0.1');
  const socket = await accepted;
  const handle = (socket as Socket & { _handle: { getsockname(out: object): number } })._handle;
  const original = handle.getsockname.bind(handle);
  let calls = 0;
  handle.getsockname = (out: object) => {
    calls++;
    return original(out);
  };
  return {
    socket,
    sockname: () => calls,
    done: () => {
      client.destroy();
      socket.destroy();
      server.close();
    },
  };
}

test('a listener bound to one address gives the local address without a getsockname() per connection', async () => {
  const conn = await acceptedSocket('127.0.0.1');
  try {
    const facts = connectionFacts(conn.socket, { name: '127.0.0.1', port: '8123' });
    assert.equal(facts.serverName, '127.0.0.1');
    assert.equal(facts.serverPort, '8123');
    assert.equal(facts.remoteAddress, '127.0.0.1');
    assert.equal(conn.sockname(), 0);
  } finally {
    conn.done();
  }
});

test('behind a wildcard the local address is asked of the socket, once per connection', async () => {
  const conn = await acceptedSocket('0.0.0.0');
  try {
    const facts = connectionFacts(conn.socket, null);
    assert.equal(facts.serverName, '127.0.0.1');
    assert.equal(facts.serverPort, String(conn.socket.localPort));
    assert.equal(connectionFacts(conn.socket, null), facts, 'kept with the socket');
    assert.ok(conn.sockname() >= 1);
  } finally {
    conn.done();
  }
});
