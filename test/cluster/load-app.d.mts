// Types of load-app.mjs, the load harness's server, for the TypeScript that uses its pieces.
import type { Socket } from '../../host/net/net.ts';
import type { AppContext } from '../../host/cluster/apps.ts';

export const MAX_LINE: number;
export const PIECE: number;
export function streamOf(name: string): (n: number) => Buffer;
export function parseRequest(line: string): { op: 'get' | 'put'; bytes: number; stream: string } | null;
export function readLine(s: Socket, cb: (line: string, rest: Buffer) => void): void;
export default function serveLoad(s: Socket, ctx: AppContext): void;
