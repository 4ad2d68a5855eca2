// Raw clients for the chaos scenarios' malformed and misbehaving traffic: WebSocket upgrades done
// by hand on a TCP socket, client frames built byte by byte, and plain TCP connections.

import net from 'node:net';
import { COOKIE_NAME } from '../harness.mjs';

/** A TCP connection to `server` (from `localAddress` if given), resolved once connected. */
export function tcp(server, { localAddress } = {}) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port: server.port, host: '127.0.0.1', localAddress });
    s.on('error', () => {}); // resets are expected: the server closes what it refuses
    s.once('connect', () => resolve(s));
    s.once('close', () => reject(new Error('closed before connecting')));
  });
}

/**
 * An Engine.IO WebSocket upgrade by hand. Resolves with {socket, rest} after the 101 (`rest`:
 * bytes after the response headers), or with {socket, status} when refused.
 */
export async function upgrade(server, sid) {
  const s = await tcp(server);
  const key = Buffer.from('0123456789abcdef').toString('base64');
  s.write(
    'GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n' +
      `Host: 127.0.0.1:${server.port}\r\n` +
      'Upgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
      (sid ? `Cookie: ${COOKIE_NAME}=${sid}\r\n` : '') +
      '\r\n',
  );
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0);
    const onData = (d) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      s.off('data', onData);
      const status = Number(buf.subarray(9, 12).toString());
      resolve({ socket: s, status, rest: buf.subarray(end + 4) });
    };
    s.on('data', onData);
    s.once('close', () => resolve({ socket: s, status: 0, rest: Buffer.alloc(0) }));
  });
}

/** A client frame (masked unless told otherwise). */
export function frame(opcode, payload, { fin = true, mask = true, maskKey = Buffer.from([1, 2, 3, 4]) } = {}) {
  const body = Buffer.from(payload);
  const len = body.length;
  const head = [(fin ? 0x80 : 0) | opcode];
  const m = mask ? 0x80 : 0;
  if (len < 126) head.push(m | len);
  else if (len < 65536) head.push(m | 126, len >> 8, len & 0xff);
  else {
    head.push(m | 127, 0, 0, 0, 0);
    head.push((len >>> 24) & 0xff, (len >>> 16) & 0xff, (len >>> 8) & 0xff, len & 0xff);
  }
  const out = [Buffer.from(head)];
  if (mask) {
    out.push(maskKey);
    out.push(Buffer.from(body.map((b, i) => b ^ maskKey[i % 4])));
  } else {
    out.push(body);
  }
  return Buffer.concat(out);
}

export const text = (s, opts) => frame(0x1, Buffer.from(s, 'utf8'), opts);
