import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
export const REQ_BYTES: number;
export function serveRequest(req: IncomingMessage, res: ServerResponse): void;
export default function handler(socket: Duplex): void;
