/* include/shoal.h implemented over wasm2c's conversion of build/shoal.wasm
 * (generated into the build directory as shoal_core.c / shoal_core.h with
 * module name "shoal"). One line per export: when the core gains an export,
 * its prototype goes into shoal.h and its line here (test/embed/c-host.test.ts
 * checks that every prototype has one). Written against wabt 1.0.32 (Debian
 * 12), whose names are Z_shoalZ_<export>; the Makefile stops with a message if
 * the generated names differ. */
#include <stdio.h>
#include <stdlib.h>

#include "shoal.h"
#include "shoal_w2c.h"
#include "shoal_core.h"
#include "wasm-rt-impl.h"

#define W2C(name) Z_shoalZ_##name

struct shoal {
  Z_shoal_instance_t inst;
};

/* The layouts in shoal.h are the core's: 4-byte words, no padding. */
_Static_assert(sizeof(shoal_desc_t) == SHOAL_DESC_BYTES && SHOAL_DESC_BYTES == 16, "rx/tx descriptor is 16 bytes");
_Static_assert(sizeof(shoal_event_t) == 16, "event is 16 bytes");
_Static_assert(sizeof(shoal_udp_rec_t) == 16 && sizeof(shoal_seg_t) == 8, "udp_recv record layout");
_Static_assert(sizeof(shoal_tcp_info_t) == 4 * SHOAL_TCP_INFO_WORDS, "tcp_info: one word per field");
_Static_assert(sizeof(shoal_tcp_tables_t) == 4 * SHOAL_TCP_TABLES_WORDS, "tcp_tables: one word per field");

shoal_t *shoal_w2c_new(void) {
  static int ready = 0;
  if (!ready) {
    wasm_rt_init();
    Z_shoal_init_module();
    ready = 1;
  }
  shoal_t *s = calloc(1, sizeof *s);
  if (s) Z_shoal_instantiate(&s->inst);   /* runs the module's start function */
  return s;
}

void shoal_w2c_delete(shoal_t *s) {
  if (!s) return;
  Z_shoal_free(&s->inst);
  free(s);
}

int shoal_w2c_guard(int (*fn)(void *), void *arg) {
  wasm_rt_trap_t code = (wasm_rt_trap_t)wasm_rt_impl_try();
  if (code != 0) {
    fprintf(stderr, "shoal core trapped: %s\n", wasm_rt_strerror(code));
    return -1;
  }
  return fn(arg);
}

/* The zero-import core has a start section instead: nothing to do. */
void shoal__initialize(shoal_t *s) { (void)s; }

uint8_t *shoal_memory(shoal_t *s) { return W2C(memory)(&s->inst)->data; }

uint32_t shoal_scb(shoal_t *s) { return W2C(scb)(&s->inst); }
int32_t shoal_init(shoal_t *s) { return (int32_t)W2C(init)(&s->inst); }
int32_t shoal_if_add(shoal_t *s, uint32_t mac_hi, uint32_t mac_lo, uint32_t mtu) { return (int32_t)W2C(if_add)(&s->inst, mac_hi, mac_lo, mtu); }
int32_t shoal_if_offload(shoal_t *s, uint32_t ifx, uint32_t csum, uint32_t gso_max) { return (int32_t)W2C(if_offload)(&s->inst, ifx, csum, gso_max); }
int32_t shoal_if_up(shoal_t *s, uint32_t ifx, uint32_t up) { return (int32_t)W2C(if_up)(&s->inst, ifx, up); }
int32_t shoal_addr_add(shoal_t *s, uint32_t ifx, uint32_t addr, uint32_t prefix_len) { return (int32_t)W2C(addr_add)(&s->inst, ifx, addr, prefix_len); }
int32_t shoal_addr_add_flags(shoal_t *s, uint32_t ifx, uint32_t addr, uint32_t prefix_len, uint32_t flags) { return (int32_t)W2C(addr_add_flags)(&s->inst, ifx, addr, prefix_len, flags); }
int32_t shoal_arp_probe(shoal_t *s, uint32_t ifx, uint32_t addr) { return (int32_t)W2C(arp_probe)(&s->inst, ifx, addr); }
int32_t shoal_addr_del(shoal_t *s, uint32_t addr) { return (int32_t)W2C(addr_del)(&s->inst, addr); }
int32_t shoal_route_add(shoal_t *s, uint32_t dst, uint32_t prefix_len, uint32_t gw, uint32_t ifx) { return (int32_t)W2C(route_add)(&s->inst, dst, prefix_len, gw, ifx); }
int32_t shoal_route_del(shoal_t *s, uint32_t dst, uint32_t prefix_len, uint32_t gw) { return (int32_t)W2C(route_del)(&s->inst, dst, prefix_len, gw); }
double shoal_poll(shoal_t *s, double now_ms) { return W2C(poll)(&s->inst, now_ms); }
void shoal_time(shoal_t *s, double now_ms) { W2C(time)(&s->inst, now_ms); }
int32_t shoal_ping(shoal_t *s, uint32_t dst, uint32_t id, uint32_t seq, uint32_t len) { return (int32_t)W2C(ping)(&s->inst, dst, id, seq, len); }
int32_t shoal_udp_open(shoal_t *s) { return (int32_t)W2C(udp_open)(&s->inst); }
int32_t shoal_udp_bind(shoal_t *s, int32_t sd, uint32_t addr, uint32_t port) { return (int32_t)W2C(udp_bind)(&s->inst, (uint32_t)sd, addr, port); }
int32_t shoal_udp_connect(shoal_t *s, int32_t sd, uint32_t addr, uint32_t port) { return (int32_t)W2C(udp_connect)(&s->inst, (uint32_t)sd, addr, port); }
int32_t shoal_udp_broadcast(shoal_t *s, int32_t sd, uint32_t on) { return (int32_t)W2C(udp_broadcast)(&s->inst, (uint32_t)sd, on); }
int32_t shoal_udp_send(shoal_t *s, int32_t sd, uint32_t dst, uint32_t port, uint32_t len) { return (int32_t)W2C(udp_send)(&s->inst, (uint32_t)sd, dst, port, len); }
int32_t shoal_udp_recv(shoal_t *s, int32_t sd, uint32_t max) { return (int32_t)W2C(udp_recv)(&s->inst, (uint32_t)sd, max); }
int32_t shoal_udp_local(shoal_t *s, int32_t sd) { return (int32_t)W2C(udp_local)(&s->inst, (uint32_t)sd); }
int32_t shoal_udp_close(shoal_t *s, int32_t sd) { return (int32_t)W2C(udp_close)(&s->inst, (uint32_t)sd); }
int32_t shoal_tcp_open(shoal_t *s) { return (int32_t)W2C(tcp_open)(&s->inst); }
int32_t shoal_tcp_listen(shoal_t *s, int32_t sd, uint32_t addr, uint32_t port, uint32_t backlog) { return (int32_t)W2C(tcp_listen)(&s->inst, (uint32_t)sd, addr, port, backlog); }
int32_t shoal_tcp_connect(shoal_t *s, int32_t sd, uint32_t raddr, uint32_t rport, uint32_t laddr, uint32_t lport) { return (int32_t)W2C(tcp_connect)(&s->inst, (uint32_t)sd, raddr, rport, laddr, lport); }
int32_t shoal_tcp_accept(shoal_t *s, int32_t lsd) { return (int32_t)W2C(tcp_accept)(&s->inst, (uint32_t)lsd); }
int32_t shoal_tcp_send_space(shoal_t *s, int32_t sd) { return (int32_t)W2C(tcp_send_space)(&s->inst, (uint32_t)sd); }
int32_t shoal_tcp_send_commit(shoal_t *s, int32_t sd, uint32_t n, uint32_t more) { return (int32_t)W2C(tcp_send_commit)(&s->inst, (uint32_t)sd, n, more); }
int32_t shoal_tcp_recv(shoal_t *s, int32_t sd, uint32_t max) { return (int32_t)W2C(tcp_recv)(&s->inst, (uint32_t)sd, max); }
int32_t shoal_tcp_shutdown(shoal_t *s, int32_t sd) { return (int32_t)W2C(tcp_shutdown)(&s->inst, (uint32_t)sd); }
int32_t shoal_tcp_close(shoal_t *s, int32_t sd) { return (int32_t)W2C(tcp_close)(&s->inst, (uint32_t)sd); }
int32_t shoal_tcp_abort(shoal_t *s, int32_t sd) { return (int32_t)W2C(tcp_abort)(&s->inst, (uint32_t)sd); }
int32_t shoal_tcp_setopt(shoal_t *s, int32_t sd, uint32_t opt, uint32_t val) { return (int32_t)W2C(tcp_setopt)(&s->inst, (uint32_t)sd, opt, val); }
int32_t shoal_tcp_info(shoal_t *s, int32_t sd) { return (int32_t)W2C(tcp_info)(&s->inst, (uint32_t)sd); }
int32_t shoal_tcp_tcb_info(shoal_t *s, uint32_t i) { return (int32_t)W2C(tcp_tcb_info)(&s->inst, i); }
int32_t shoal_tcp_tables(shoal_t *s) { return (int32_t)W2C(tcp_tables)(&s->inst); }
int32_t shoal_cluster_join(shoal_t *s, uint32_t me, uint32_t port, uint32_t keyLen, uint32_t epoch, uint32_t seq0, uint32_t intervalMs, uint32_t holdMs) { return (int32_t)W2C(cluster_join)(&s->inst, me, port, keyLen, epoch, seq0, intervalMs, holdMs); }
int32_t shoal_vipa_route(shoal_t *s, uint32_t len, uint32_t idleMs, uint32_t crtMax, uint32_t wait) { return (int32_t)W2C(vipa_route)(&s->inst, len, idleMs, crtMax, wait); }
int32_t shoal_cluster_quiesce(shoal_t *s, uint32_t port, uint32_t on) { return (int32_t)W2C(cluster_quiesce)(&s->inst, port, on); }
int32_t shoal_vipa_unroute(shoal_t *s, uint32_t vipa) { return (int32_t)W2C(vipa_unroute)(&s->inst, vipa); }
int32_t shoal_cluster_view(shoal_t *s, uint32_t i) { return (int32_t)W2C(cluster_view)(&s->inst, i); }
int32_t shoal_dpt_rows(shoal_t *s, uint32_t vipa) { return (int32_t)W2C(dpt_rows)(&s->inst, vipa); }
int32_t shoal_crt_rows(shoal_t *s, uint32_t vipa, uint32_t start) { return (int32_t)W2C(crt_rows)(&s->inst, vipa, start); }
int32_t shoal_tables(shoal_t *s) { return (int32_t)W2C(tables)(&s->inst); }
