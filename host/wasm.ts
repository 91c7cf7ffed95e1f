// Finding and compiling the core. The host is bundled into build/ and tests
// into build/test/…, so the wasm is looked up from this module upwards.
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringAt } from './core-view.ts';

export type CoreKind = 'release' | 'debug';
const FILES: Record<CoreKind, string> = { release: 'shoal.wasm', debug: 'shoal.debug.wasm' };

export function wasmPath(file: string): string {
  const env = process.env.SHOAL_WASM_DIR;
  if (env && existsSync(join(env, file))) return join(env, file);
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    for (const p of [join(dir, file), join(dir, 'build', file)]) if (existsSync(p)) return p;
    dir = dirname(dir);
  }
  throw new Error(`shoal: ${file} not found near ${fileURLToPath(import.meta.url)}; run "npm run build"`);
}

const modules = new Map<CoreKind, WebAssembly.Module>();

export function coreModule(kind: CoreKind): WebAssembly.Module {
  let m = modules.get(kind);
  if (!m) {
    m = new WebAssembly.Module(readFileSync(wasmPath(FILES[kind])));
    modules.set(kind, m);
  }
  return m;
}

/** The raw exports of the core (docs/ABI.md). */
export interface CoreExports {
  memory: WebAssembly.Memory;
  scb(): number;
  init(): number;
  if_add(macHi: number, macLo: number, mtu: number): number;
  if_offload(ifx: number, csum: number, gsoMax: number): number;
  if_up(ifx: number, up: number): number;
  addr_add(ifx: number, addr: number, prefixLen: number): number;
  addr_add_flags(ifx: number, addr: number, prefixLen: number, flags: number): number;
  arp_probe(ifx: number, addr: number): number;
  addr_del(addr: number): number;
  route_add(dst: number, prefixLen: number, gw: number, ifx: number): number;
  route_del(dst: number, prefixLen: number, gw: number): number;
  poll(nowMs: number): number;
  time(nowMs: number): void;
  ping(dst: number, id: number, seq: number, len: number): number;
  udp_open(): number;
  udp_bind(sd: number, addr: number, port: number): number;
  udp_connect(sd: number, addr: number, port: number): number;
  udp_broadcast(sd: number, on: number): number;
  udp_send(sd: number, dst: number, port: number, len: number): number;
  udp_recv(sd: number, max: number): number;
  udp_local(sd: number): number;
  udp_close(sd: number): number;
  tables(): number;
  tcp_open(): number;
  tcp_listen(sd: number, addr: number, port: number, backlog: number): number;
  tcp_connect(sd: number, raddr: number, rport: number, laddr: number, lport: number): number;
  tcp_accept(lsd: number): number;
  tcp_send_space(sd: number): number;
  tcp_send_commit(sd: number, n: number, more: number): number;
  tcp_recv(sd: number, max: number): number;
  tcp_shutdown(sd: number): number;
  tcp_close(sd: number): number;
  tcp_abort(sd: number): number;
  tcp_setopt(sd: number, opt: number, val: number): number;
  tcp_info(sd: number): number;
  tcp_tcb_info(i: number): number;
  tcp_tables(): number;
  cluster_join(me: number, port: number, keyLen: number, epoch: number, seq0: number, intervalMs: number, holdMs: number): number;
  vipa_route(len: number, idleMs: number, crtMax: number, wait: number): number;
  vipa_unroute(vipa: number): number;
  cluster_quiesce(port: number, on: number): number;
  cluster_view(i: number): number;
  dpt_rows(vipa: number): number;
  crt_rows(vipa: number, start: number): number;
}

/** Instantiates the core. The debug build imports env.abort (assertion
 * messages); the release build imports nothing. */
export function instantiateCore(kind: CoreKind): CoreExports {
  let memory: WebAssembly.Memory | undefined;
  const str = (p: number) => (memory ? stringAt(memory, p) : '');
  const imports = {
    env: {
      abort(msg: number, file: number, line: number, col: number) {
        throw new Error(`shoal core: ${str(msg)} at ${str(file)}:${line}:${col}`);
      },
    },
  };
  const inst = new WebAssembly.Instance(coreModule(kind), kind === 'debug' ? imports : {});
  const ex = inst.exports as unknown as CoreExports;
  memory = ex.memory;
  return ex;
}
