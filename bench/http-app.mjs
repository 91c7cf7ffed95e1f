// The benchmarks' HTTP service, as a cluster app module (apps[].serve): a
// stack in a worker thread loads it with import() at run time, outside the
// benches' bundles, so it is plain JavaScript. Every request, once its
// 100-byte body is in, gets a 100-byte body (400 if the body was another size).
import http from 'node:http';

export const REQ_BYTES = 100;
const REP = Buffer.alloc(REQ_BYTES, 0x72);

/** An http.Server's request listener. */
export function serveRequest(req, res) {
  let got = 0;
  req.on('data', (d) => { got += d.length; });
  req.on('end', () => { if (got !== REQ_BYTES) res.statusCode = 400; res.end(REP); });
}

let web = null;
/** The connection handler: one http.Server per thread takes every connection. */
export default function handler(socket) {
  web ??= http.createServer(serveRequest);
  socket.on('error', () => {});
  web.emit('connection', socket);
}
