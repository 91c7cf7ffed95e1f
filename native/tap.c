/*
 * shoal_tap: a TAP device for Node, in plain Node-API (node_api.h only).
 *
 * Node has no ioctl and cannot poll a character device, so this addon does
 * the three things JS cannot: open /dev/net/tun with TUNSETIFF, watch the fd
 * with a uv_poll_t on the main loop, and move frames with read()/write().
 *
 *   open(name, vnet, offload)  -> { handle, name, vnetHdr, offload, features }
 *   start(handle, rx, lens, reserve, cb)   cb(count, err?) once per wake-up
 *   writeBatch(handle, buf, lens, count, res) -> frames written
 *   errorFor(errno) -> Error          close(handle)          ref(handle, on)
 *
 * Receive: each wake-up reads frames back to back into the one buffer `rx`
 * (registered once, never reallocated) until EAGAIN, until `lens` is full or
 * until fewer than `reserve` bytes are left (a TAP read truncates a frame
 * that does not fit, so we never read into less than the largest frame), then
 * makes ONE JS call: frame i is rx[sum(lens[0..i)) .. +lens[i]). Nothing is
 * allocated per frame or per wake-up on this side.
 *
 * Send: TAP has no writev-of-many-frames (each write() is one frame), so the
 * batching is one N-API call that loops write() over frames packed the same
 * way. res[0] = written, res[1] = frames dropped by per-frame errors,
 * res[2] = errno of a fatal error (device gone) that stopped the loop, else 0,
 * res[3] = errno of the last per-frame error, res[4] = bytes written.
 *
 * Errors never abort the process: bad arguments throw TypeErrors, system
 * errors throw (in open) or are reported (in cb / res) as Errors with
 * `code` ("EBADFD") and `errno`.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>
#ifdef __linux__
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#endif

typedef struct {
  int fd;
  int closed;       /* close() ran: fd closed, refs released */
  int uv_closed;    /* uv_close callback ran */
  int finalized;    /* the JS External is gone */
  int polling;
  int in_cb;        /* inside the JS read callback (close() may run there) */
  napi_env env;
  uv_poll_t poll;
  napi_ref cb_ref, rx_ref, lens_ref;
  napi_async_context actx;
  uint8_t *rx;
  size_t rx_cap, reserve;
  int32_t *lens;
  size_t lens_cap;
} tap_t;

static const napi_type_tag TAP_TAG = {0x5ea1ab1e7a9d0001ULL, 0x9e3779b97f4a7c15ULL};

/* ---- errors ---------------------------------------------------------- */

static const char *errno_name(int e) {
  switch (e) {
#define N(x) case x: return #x;
    N(EPERM) N(ENOENT) N(EINTR) N(EIO) N(ENXIO) N(EBADF) N(EAGAIN) N(ENOMEM)
    N(EACCES) N(EFAULT) N(EBUSY) N(EEXIST) N(ENODEV) N(EINVAL) N(ENFILE)
    N(EMFILE) N(ENOTTY) N(ENOSPC) N(ENOSYS) N(ENAMETOOLONG) N(EMSGSIZE)
    N(ENOBUFS) N(EOPNOTSUPP) N(ENETDOWN)
#ifdef EBADFD
    N(EBADFD)
#endif
#undef N
    default: return NULL;
  }
}

/* An Error with .code and .errno; `what` says which step failed. */
static napi_value make_error(napi_env env, int e, const char *what) {
  const char *name = errno_name(e);
  char code[32], msg[256];
  if (name) snprintf(code, sizeof code, "%s", name);
  else snprintf(code, sizeof code, "E%d", e);
  const char *hint = "";
  if ((e == ENOENT || e == ENODEV || e == ENXIO) && what && strstr(what, "/dev/net/tun"))
    hint = " (no TUN/TAP support: is the tun module loaded, or /dev/net/tun visible in this container?)";
  else if (e == EPERM || e == EACCES)
    hint = " (creating a TAP device needs CAP_NET_ADMIN, e.g. root)";
  snprintf(msg, sizeof msg, "%s: %s: %s%s", what ? what : "tap", code, strerror(e), hint);
  napi_value vcode, vmsg, err, verrno;
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &vcode);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &vmsg);
  napi_create_error(env, vcode, vmsg, &err);
  napi_create_int32(env, e, &verrno);
  napi_set_named_property(env, err, "errno", verrno);
  return err;
}

static napi_value throw_errno(napi_env env, int e, const char *what) {
  napi_throw(env, make_error(env, e, what));
  return NULL;
}

#define CHECK(call)                                                    \
  do {                                                                 \
    if ((call) != napi_ok) {                                           \
      const napi_extended_error_info *i_ = NULL;                       \
      napi_get_last_error_info(env, &i_);                              \
      bool p_ = false;                                                 \
      napi_is_exception_pending(env, &p_);                             \
      if (!p_) napi_throw_error(env, NULL, i_ && i_->error_message      \
                                           ? i_->error_message         \
                                           : "shoal_tap: N-API call failed"); \
      return NULL;                                                     \
    }                                                                  \
  } while (0)

/* ---- argument helpers ------------------------------------------------- */

static tap_t *get_tap(napi_env env, napi_value v) {
  bool ok = false;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external ||
      napi_check_object_type_tag(env, v, &TAP_TAG, &ok) != napi_ok || !ok) {
    napi_throw_type_error(env, NULL, "shoal_tap: expected a TAP handle");
    return NULL;
  }
  void *p = NULL;
  napi_get_value_external(env, v, &p);
  return p;
}

/* Any TypedArray (a Buffer included); `want` the element type, or -1 for bytes of any. */
static int get_array(napi_env env, napi_value v, int want, void **data, size_t *bytes) {
  bool is = false;
  napi_typedarray_type type;
  size_t len = 0, off = 0;
  napi_value ab;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is ||
      napi_get_typedarray_info(env, v, &type, &len, data, &ab, &off) != napi_ok ||
      (want >= 0 && (int)type != want) || (want < 0 && type != napi_uint8_array)) {
    napi_throw_type_error(env, NULL, want == napi_int32_array
                                         ? "shoal_tap: expected an Int32Array"
                                         : "shoal_tap: expected a Uint8Array");
    return 0;
  }
  *bytes = want == napi_int32_array ? len * 4 : len;
  return 1;
}

/* ---- lifetime ---------------------------------------------------------- */

/* The struct has two owners: the uv handle (freed after uv_close's callback)
 * and the JS External (freed by its finalizer). Whoever goes last frees it. */
static void on_uv_closed(uv_handle_t *h) {
  tap_t *t = h->data;
  t->uv_closed = 1;
  if (t->finalized) free(t);
}

static void do_close(napi_env env, tap_t *t) {
  if (t->closed) return;
  t->closed = 1;
  t->polling = 0;
  uv_poll_stop(&t->poll); /* stop before close(): libuv must not watch a dead fd */
  uv_close((uv_handle_t *)&t->poll, on_uv_closed);
  if (t->fd >= 0) close(t->fd);
  t->fd = -1;
  if (t->cb_ref) napi_delete_reference(env, t->cb_ref);
  if (t->rx_ref) napi_delete_reference(env, t->rx_ref);
  if (t->lens_ref) napi_delete_reference(env, t->lens_ref);
  /* The async context is in use while its callback runs: on_poll ends it. */
  if (t->actx && !t->in_cb) {
    napi_async_destroy(env, t->actx);
    t->actx = NULL;
  }
  t->cb_ref = t->rx_ref = t->lens_ref = NULL;
  t->rx = NULL;
  t->lens = NULL;
}

static void finalize_tap(napi_env env, void *data, void *hint) {
  (void)hint;
  tap_t *t = data;
  t->finalized = 1;
  /* Only reachable unclosed if never started (a started poll holds the
   * callback, which holds the link): release the fd now. */
  do_close(env, t);
  if (t->uv_closed) free(t);
}

/* ---- open -------------------------------------------------------------- */

#ifdef __linux__
/* Returns the fd, or -1 with *err set and *what naming the failed step. */
static int open_tun(const char *name, int flags, char *out_name, int *err, const char **what) {
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    *err = errno;
    *what = "open /dev/net/tun";
    return -1;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = (short)flags;
  memcpy(ifr.ifr_name, name, strnlen(name, IFNAMSIZ - 1)); /* length checked by the caller */
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    *err = errno;
    *what = "TUNSETIFF";
    close(fd);
    return -1;
  }
  memcpy(out_name, ifr.ifr_name, IFNAMSIZ);
  out_name[IFNAMSIZ - 1] = 0;
  return fd;
}
#endif

/* open(name: string, vnet: boolean, offload: number TUN_F_* mask) */
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) {
    napi_throw_type_error(env, NULL, "shoal_tap.open(name, vnet?, offload?)");
    return NULL;
  }
  char name[64];
  size_t nlen = 0;
  if (napi_get_value_string_utf8(env, argv[0], name, sizeof name, &nlen) != napi_ok) {
    napi_throw_type_error(env, NULL, "shoal_tap.open: name must be a string");
    return NULL;
  }
#ifndef __linux__
  return throw_errno(env, ENOSYS, "TAP devices need Linux");
#else
  if (nlen >= IFNAMSIZ) {
    char what[128];
    snprintf(what, sizeof what, "TUNSETIFF '%.40s': device name longer than %d bytes", name, IFNAMSIZ - 1);
    return throw_errno(env, EINVAL, what);
  }
  bool want_vnet = false;
  uint32_t want_off = 0;
  if (argc > 1) napi_get_value_bool(env, argv[1], &want_vnet);
  if (argc > 2) napi_get_value_uint32(env, argv[2], &want_off);

  char real[IFNAMSIZ];
  int err = 0, fd = -1, vnet = 0;
  const char *step = "open";
  unsigned int features = 0;
  uint32_t off = 0;
  if (want_vnet) {
    fd = open_tun(name, IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, real, &err, &step);
    if (fd >= 0) {
      ioctl(fd, TUNGETFEATURES, &features);
      /* Ask for all, then CSUM alone; the kernel may refuse parts. */
      if (ioctl(fd, TUNSETOFFLOAD, want_off) == 0) off = want_off;
      else if ((want_off & TUN_F_CSUM) && ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM) == 0) off = TUN_F_CSUM;
      if (off == 0 && want_off != 0) {
        /* No offload at all: headers would only cost bytes. Reopen plain. */
        close(fd);
        fd = -1;
      } else {
        vnet = 1;
      }
    } else if (err != EINVAL) {
      goto fail; /* EPERM, ENOENT, EBUSY…: the plain open would fail too */
    }
  }
  if (fd < 0) {
    fd = open_tun(name, IFF_TAP | IFF_NO_PI, real, &err, &step);
    if (fd < 0) goto fail;
    if (!features) ioctl(fd, TUNGETFEATURES, &features);
  }

  tap_t *t = calloc(1, sizeof *t);
  if (!t) {
    close(fd);
    return throw_errno(env, ENOMEM, "shoal_tap.open");
  }
  t->fd = fd;
  t->env = env;
  uv_loop_t *loop = NULL;
  napi_get_uv_event_loop(env, &loop);
  int r = uv_poll_init(loop, &t->poll, fd);
  if (r < 0) {
    close(fd);
    free(t);
    return throw_errno(env, -r, "uv_poll_init");
  }
  t->poll.data = t;

  napi_value handle, obj, v;
  if (napi_create_external(env, t, finalize_tap, NULL, &handle) != napi_ok) {
    t->finalized = 1; /* no External: the uv close callback frees */
    do_close(env, t);
    napi_throw_error(env, NULL, "shoal_tap.open: cannot create handle");
    return NULL;
  }
  napi_type_tag_object(env, handle, &TAP_TAG);
  CHECK(napi_create_object(env, &obj));
  napi_set_named_property(env, obj, "handle", handle);
  napi_create_string_utf8(env, real, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, "name", v);
  napi_get_boolean(env, vnet, &v);
  napi_set_named_property(env, obj, "vnetHdr", v);
  napi_create_uint32(env, vnet ? off : 0, &v);
  napi_set_named_property(env, obj, "offload", v);
  napi_create_uint32(env, features, &v);
  napi_set_named_property(env, obj, "features", v);
  return obj;

fail:;
  char what[96];
  snprintf(what, sizeof what, "%s '%s'", step, name);
  return throw_errno(env, err, what);
#endif
}

/* ---- receive ----------------------------------------------------------- */

static void on_poll(uv_poll_t *h, int status, int events) {
  (void)events;
  tap_t *t = h->data;
  if (t->closed || !t->polling) return;
  size_t off = 0;
  uint32_t n = 0;
  int err = 0;
  while (n < t->lens_cap && t->rx_cap - off >= t->reserve) {
    ssize_t r = read(t->fd, t->rx + off, t->rx_cap - off);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) err = errno;
      break;
    }
    if (r == 0) break;
    t->lens[n++] = (int32_t)r;
    off += (size_t)r;
  }
  /* libuv stops the handle itself on POLLERR (status UV_EBADF); the read
   * above usually says why (EBADFD when the device was destroyed). */
  if (!err && status < 0) err = -status;
  if (err) {
    uv_poll_stop(&t->poll);
    t->polling = 0;
  }
  if (n == 0 && !err) return;

  napi_env env = t->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, recv, argv[2], result;
  napi_get_reference_value(env, t->cb_ref, &cb);
  napi_get_global(env, &recv); /* make_callback wants an object receiver */
  napi_create_uint32(env, n, &argv[0]);
  if (err) argv[1] = make_error(env, err, "TAP read");
  else napi_get_undefined(env, &argv[1]);
  t->in_cb = 1;
  napi_status st = cb ? napi_make_callback(env, t->actx, recv, cb, 2, argv, &result) : napi_ok;
  t->in_cb = 0;
  if (t->closed && t->actx) {
    napi_async_destroy(env, t->actx);
    t->actx = NULL;
  }
  if (st != napi_ok) {
    /* A throwing callback is the app's bug: report it as Node reports an
     * exception thrown from any event handler, never abort. */
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value ex;
      napi_get_and_clear_last_exception(env, &ex);
      napi_fatal_exception(env, ex);
    }
  }
  napi_close_handle_scope(env, scope);
}

/* start(handle, rx: Uint8Array, lens: Int32Array, reserve: number, cb) */
static napi_value js_start(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 5) {
    napi_throw_type_error(env, NULL, "shoal_tap.start(handle, rx, lens, reserve, cb)");
    return NULL;
  }
  tap_t *t = get_tap(env, argv[0]);
  if (!t) return NULL;
  if (t->closed) return throw_errno(env, EBADF, "shoal_tap.start: closed");
  if (t->cb_ref) return throw_errno(env, EBUSY, "shoal_tap.start: already started");
  void *rx, *lens;
  size_t rx_bytes, lens_bytes;
  uint32_t reserve = 0;
  napi_valuetype ft;
  if (!get_array(env, argv[1], -1, &rx, &rx_bytes)) return NULL;
  if (!get_array(env, argv[2], napi_int32_array, &lens, &lens_bytes)) return NULL;
  napi_get_value_uint32(env, argv[3], &reserve);
  napi_typeof(env, argv[4], &ft);
  if (ft != napi_function || reserve == 0 || reserve > rx_bytes || lens_bytes < 4) {
    napi_throw_range_error(env, NULL, "shoal_tap.start: need 0 < reserve <= rx.length, lens.length >= 1, cb");
    return NULL;
  }
  napi_value name;
  napi_create_string_utf8(env, "ShoalTapRead", NAPI_AUTO_LENGTH, &name);
  CHECK(napi_async_init(env, NULL, name, &t->actx));
  /* Strong refs keep rx/lens (and so their memory, which we point into) alive. */
  CHECK(napi_create_reference(env, argv[4], 1, &t->cb_ref));
  CHECK(napi_create_reference(env, argv[1], 1, &t->rx_ref));
  CHECK(napi_create_reference(env, argv[2], 1, &t->lens_ref));
  t->rx = rx;
  t->rx_cap = rx_bytes;
  t->reserve = reserve;
  t->lens = lens;
  t->lens_cap = lens_bytes / 4;
  int r = uv_poll_start(&t->poll, UV_READABLE, on_poll);
  if (r < 0) return throw_errno(env, -r, "uv_poll_start");
  t->polling = 1;
  return NULL;
}

/* ---- send -------------------------------------------------------------- */

static int fatal_write_errno(int e) {
  /* The device is gone (namespace deleted, fd detached): nothing more will pass. */
  return e == EBADF || e == ENODEV || e == ENXIO
#ifdef EBADFD
         || e == EBADFD
#endif
      ;
}

/* writeBatch(handle, buf: Uint8Array, lens: Int32Array, count, res: Int32Array(5)) */
static napi_value js_write_batch(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 5) {
    napi_throw_type_error(env, NULL, "shoal_tap.writeBatch(handle, buf, lens, count, res)");
    return NULL;
  }
  tap_t *t = get_tap(env, argv[0]);
  if (!t) return NULL;
  void *bufp, *lensp, *resp;
  size_t buf_bytes, lens_bytes, res_bytes;
  uint32_t count = 0;
  if (!get_array(env, argv[1], -1, &bufp, &buf_bytes)) return NULL;
  if (!get_array(env, argv[2], napi_int32_array, &lensp, &lens_bytes)) return NULL;
  napi_get_value_uint32(env, argv[3], &count);
  if (!get_array(env, argv[4], napi_int32_array, &resp, &res_bytes)) return NULL;
  if (res_bytes < 20 || count > lens_bytes / 4) {
    napi_throw_range_error(env, NULL, "shoal_tap.writeBatch: count > lens.length or res.length < 5");
    return NULL;
  }
  const uint8_t *buf = bufp;
  const int32_t *lens = lensp;
  int32_t *res = resp;
  int32_t sent = 0, failed = 0, fatal = 0, last = 0, bytes = 0;
  size_t off = 0;
  if (t->closed) fatal = EBADF;
  for (uint32_t i = 0; i < count && !fatal; i++) {
    int32_t len = lens[i];
    if (len < 0 || (size_t)len > buf_bytes - off) {
      napi_throw_range_error(env, NULL, "shoal_tap.writeBatch: frame past the end of buf");
      return NULL;
    }
    ssize_t w;
    do w = write(t->fd, buf + off, (size_t)len);
    while (w < 0 && errno == EINTR);
    if (w < 0) {
      if (fatal_write_errno(errno)) fatal = errno;
      else { failed++; last = errno; } /* EIO while down, EINVAL runt…: drop this frame */
    } else {
      sent++;
      bytes += (int32_t)w;
    }
    off += (size_t)len;
  }
  res[0] = sent;
  res[1] = failed;
  res[2] = fatal;
  res[3] = last;
  res[4] = bytes;
  napi_value v;
  napi_create_int32(env, sent, &v);
  return v;
}

/* ---- misc -------------------------------------------------------------- */

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tap_t *t = argc ? get_tap(env, argv[0]) : NULL;
  if (!t) return NULL;
  do_close(env, t);
  return NULL;
}

/* ref(handle, on): an unref'd link does not keep the process alive. */
static napi_value js_ref(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  tap_t *t = argc ? get_tap(env, argv[0]) : NULL;
  if (!t) return NULL;
  bool on = true;
  if (argc > 1) napi_get_value_bool(env, argv[1], &on);
  if (!t->closed) {
    if (on) uv_ref((uv_handle_t *)&t->poll);
    else uv_unref((uv_handle_t *)&t->poll);
  }
  return NULL;
}

static napi_value js_error_for(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t e = 0;
  char what[96] = "TAP";
  if (argc > 0) napi_get_value_int32(env, argv[0], &e);
  if (argc > 1) napi_get_value_string_utf8(env, argv[1], what, sizeof what, NULL);
  return make_error(env, e, what);
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"start", NULL, js_start, NULL, NULL, NULL, napi_enumerable, NULL},
      {"writeBatch", NULL, js_write_batch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ref", NULL, js_ref, NULL, NULL, NULL, napi_enumerable, NULL},
      {"errorFor", NULL, js_error_for, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
