// The server side of the load harness (test/cluster/load.ts): an app module
// a cluster config names in apps[].serve. Plain JavaScript, because a
// cluster loads it with import() at run time, outside the tests' bundles.
//
// One connection, one transfer. The client sends a request line:
//   "get <bytes> <stream>\n"  download: the server sends that stream's first <bytes> bytes
//   "put <bytes>\n"           upload: the client sends <bytes> bytes, the server hashes them
// The server answers "ok <its stack name>\n" at once; then, for get, the
// bytes; for put, once it has them all, "ok <sha256 hex>\n"; then it ends.
// A request it cannot serve gets "error <why>\n" and the end.
import { createCipheriv, createHash } from 'node:crypto';

/** The longest request line. */
export const MAX_LINE = 128;
/** The largest piece a stream is written in: big writes, few calls. */
export const PIECE = 256 << 10;
const ZEROS = Buffer.alloc(PIECE);

/** A deterministic byte stream named by any string: AES-128-CTR's keystream
 * under a key derived from the name. Native code at GB/s, and no two pieces
 * alike, so a lost, repeated or reordered piece changes the hash. Returns a
 * function giving the next n bytes. */
export function streamOf(name) {
  const key = createHash('sha256').update(`shoal-load ${name}`).digest().subarray(0, 16);
  const aes = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  return (n) => aes.update(n <= PIECE ? ZEROS.subarray(0, n) : Buffer.alloc(n));
}

/** "get 1048576 7/3" → { op: 'get', bytes: 1048576, stream: '7/3' }; null for anything else. */
export function parseRequest(line) {
  const m = /^(get|put) (\d{1,15})(?: (\S{1,64}))?$/.exec(line);
  if (!m || (m[1] === 'get') !== (m[3] !== undefined)) return null;
  return { op: m[1], bytes: Number(m[2]), stream: m[3] ?? '' };
}

/** Calls back with the first line a socket sends (without "\n") and the bytes after it; a line longer than MAX_LINE ends the connection with an error. */
export function readLine(s, cb) {
  let head = Buffer.alloc(0);
  const onData = (d) => {
    head = head.length ? Buffer.concat([head, d]) : d;
    const nl = head.indexOf(10);
    if (nl < 0 && head.length <= MAX_LINE) return;
    s.off('data', onData);
    if (nl < 0 || nl > MAX_LINE) s.end(`error request line longer than ${MAX_LINE} bytes\n`);
    else cb(head.subarray(0, nl).toString('latin1'), head.subarray(nl + 1));
  };
  s.on('data', onData);
}

/** Writes n bytes of a stream with backpressure, then ends. */
function send(s, next, n) {
  let left = n;
  const pump = () => {
    while (left > 0) {
      const k = Math.min(PIECE, left);
      left -= k;
      if (!s.write(next(k))) { s.once('drain', pump); return; }
    }
    s.end();
  };
  pump();
}

/** Hashes exactly n bytes (rest: those already read), then answers with the hash. */
function receive(s, n, rest) {
  const h = createHash('sha256');
  let got = 0;
  const take = (d) => {
    if (got + d.length > n) { s.off('data', take); s.end(`error more than the ${n} bytes announced\n`); return; }
    h.update(d);
    got += d.length;
    if (got === n) { s.off('data', take); s.end(`ok ${h.digest('hex')}\n`); }
  };
  s.on('data', take);
  take(rest);
}

/** The connection handler (apps.ts ConnectionHandler). */
export default function serveLoad(s, ctx) {
  s.on('error', () => {});
  readLine(s, (line, rest) => {
    const req = parseRequest(line);
    if (!req) { s.end(`error bad request ${JSON.stringify(line)}\n`); return; }
    if (req.op === 'get' && rest.length) { s.end('error bytes after a get request\n'); return; }
    s.write(`ok ${ctx.name}\n`);
    if (req.op === 'get') send(s, streamOf(req.stream), req.bytes);
    else receive(s, req.bytes, rest);
  });
}
