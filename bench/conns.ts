// New connections per second, as bench/cluster.bench.ts and
// bench/workers.bench.ts measure them: each connection one HTTP POST with a
// 100-byte body answered with a 100-byte body, PAR in flight, the same Node
// http client and server code whatever carries the connections.
import http from 'node:http';
import type net from 'node:net';
import { REQ_BYTES, serveRequest } from './http-app.mjs';

const PAR = 50;
const REQ = Buffer.alloc(REQ_BYTES, 0x71);

/** Answers every request, once its 100-byte body is in, with a 100-byte body. */
export function server(): http.Server { return http.createServer(serveRequest); }

/** Connections/s over `conns` connections, PAR at a time, each made by connect (no agent: Connection: close). */
export function run(connect: () => net.Socket, conns: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    let started = 0, done = 0;
    const t0 = performance.now();
    const one = () => {
      started++;
      const req = http.request({ method: 'POST', host, path: '/', headers: { 'content-length': REQ.length }, createConnection: connect }, (res) => {
        let got = 0;
        res.on('data', (d: Buffer) => { got += d.length; });
        res.on('end', () => {
          if (res.statusCode !== 200 || got !== REQ_BYTES) return reject(new Error(`reply ${res.statusCode}, ${got} bytes`));
          if (++done === conns) resolve(conns / ((performance.now() - t0) / 1000));
          else if (started < conns) one();
        });
      });
      req.on('error', reject);
      req.end(REQ);
    };
    for (let i = 0; i < Math.min(PAR, conns); i++) one();
  });
}

export { PAR };

/** The median. */
export const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1];
