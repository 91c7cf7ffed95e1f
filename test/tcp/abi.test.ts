// TCP's corners of the ABI: tcp_info answers only for a socket the host holds
// (tcp_tcb_info for any TCB), and the TCP_CC config word takes tcp_setopt's values.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Peer } from './peer.ts';
import { SYN, ACK } from './helpers.ts';
import type { Socket } from '../../host/net/net.ts';
import { instantiateCore } from '../../host/wasm.ts';
import { CFG, ERRNO, SCB, TCP_CC, TCP_INFO, TCP_OPT, TCP_STATE } from '../../host/core-abi.ts';

/** A raw core with the TCP_CC word set to cc (undefined: left zero): init's result, and a new socket's congestion control. */
function withCc(cc: number | undefined): { init: number; congestion: () => number; setopt: (v: number) => number } {
  const ex = instantiateCore('release');
  const word = (off: number) => new Uint32Array(ex.memory.buffer)[(ex.scb() + off) >>> 2];
  if (cc !== undefined) new Uint32Array(ex.memory.buffer)[(ex.scb() + CFG.TCP_CC) >>> 2] = cc;
  const init = ex.init();
  const sd = init < 0 ? -1 : ex.tcp_open();
  return {
    init,
    congestion: () => {
      assert.is(ex.tcp_info(sd), 0);
      return new Uint32Array(ex.memory.buffer)[(word(SCB.IO) + TCP_INFO.congestion) >>> 2];
    },
    setopt: (v: number) => ex.tcp_setopt(sd, TCP_OPT.CC, v),
  };
}

test('TCP_CC takes the values of tcp_setopt\'s CC: 0 CUBIC (also the word left zero), 1 NewReno, 2 BBR; others fail init', () => {
  assert.is(withCc(undefined).congestion(), TCP_CC.CUBIC);
  assert.is(withCc(TCP_CC.CUBIC).congestion(), TCP_CC.CUBIC);
  const nr = withCc(TCP_CC.NEWRENO);
  assert.is(nr.congestion(), TCP_CC.NEWRENO);
  assert.is(nr.setopt(TCP_CC.CUBIC), 0);
  assert.is(nr.congestion(), TCP_CC.CUBIC, 'the option, the same numbers');
  assert.is(nr.setopt(TCP_CC.BBR), 0);
  assert.is(nr.congestion(), TCP_CC.BBR);
  assert.is(withCc(TCP_CC.BBR).congestion(), TCP_CC.BBR);
  assert.is(nr.setopt(3), ERRNO.INVAL);
  assert.is(withCc(3).init, ERRNO.INVAL);
});

test('tcp_info on a socket the host closed is EBADF; tcp_tcb_info still shows the TCB while it finishes', async () => {
  const p = new Peer();
  const conns: Socket[] = [];
  p.stack.net.createServer((s: Socket) => conns.push(s)).listen(80);
  await p.settle();
  p.send({ seq: 1000, flags: SYN, mss: 1460 });
  const sa = p.take()[0];
  // A child not yet accepted has no descriptor, but a TCB.
  const core = p.stack.core;
  const io = () => new Uint32Array(core.memory.buffer)[(core.scb() + SCB.IO) >>> 2];
  const state = () => new Uint32Array(core.memory.buffer)[(io() + TCP_INFO.state) >>> 2];
  const synRcvd = [...Array(8).keys()].filter((i) => core.tcp_tcb_info(i) === 0 && state() === TCP_STATE.SYN_RCVD);
  assert.is(synRcvd.length, 1, 'tcp_tcb_info sees the child in SYN-RECEIVED');
  assert.is(core.tcp_info(synRcvd[0]), ERRNO.BADF, 'which the host does not hold');
  p.send({ seq: 1001, ack: sa.seq + 1, flags: ACK });
  await p.settle();
  assert.is(conns.length, 1);
  const sd = (conns[0] as unknown as { sd: number }).sd;
  assert.is(core.tcp_info(sd), 0);
  conns[0].destroy();
  await p.settle();
  assert.is(core.tcp_info(sd), ERRNO.BADF, 'closed by the host: EBADF, as every other call');
  assert.is(core.tcp_setopt(sd, TCP_OPT.NODELAY, 1), ERRNO.BADF);
  assert.is(core.tcp_tcb_info(sd), 0);
  assert.is(state(), TCP_STATE.FIN_WAIT_1, 'the orphan finishes on its own');
  assert.is(core.tcp_tcb_info(1 << 20), ERRNO.BADF, 'no such TCB');
  assert.is(conns[0].info(), null);
});

test.run();
