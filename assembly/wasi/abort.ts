// The WASI artifact's abort (asconfig.json: a library file, so its export is
// the global shoal_wasi_abort that "abort=" names): a fatal internal
// error, which would be a bug, writes `abort: <message> in <file>:<line>` to
// stderr and exits. The shim's own wasi_abort does the same with a UTF-8
// encoder and number formatting, 700 bytes of a 64 KiB budget; the core's
// messages and file names are ASCII.
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_write")
declare function fd_write(fd: u32, iovs: usize, iovsLen: u32, written: usize): u16;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "proc_exit")
declare function proc_exit(code: u32): void;

const OUT: usize = 16;   // below the static data, unused: nothing runs after this

export function shoal_wasi_abort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  let p = OUT;
  store<u64>(p, 0x203A74726F6261); p += 7;   // 'abort: '
  p = ascii(p, message);
  store<u32>(p, 0x206E6920); p += 4;         // ' in '
  p = ascii(p, fileName);
  store<u8>(p++, 0x3A);                      // ':'
  let end = p + 10, q = end;
  do { store<u8>(--q, 0x30 + line % 10); line /= 10; } while (line);
  memory.copy(p, q, end - q);
  p += end - q;
  store<u8>(p++, 10);
  store<u32>(0, OUT);
  store<u32>(4, p - OUT);
  fd_write(2, 0, 1, 8);
  proc_exit(255);
}

function ascii(p: usize, s: string | null): usize {
  if (s) {
    let n = min<i32>(s.length, 200);
    for (let i = 0; i < n; i++) store<u8>(p++, load<u8>(changetype<usize>(s) + (<usize>i << 1)));
  }
  return p;
}
