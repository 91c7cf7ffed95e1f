/**
 * Seeded pseudo-random numbers for everything that must replay from a seed
 * (fault injection, fuzzing, simulations). xoshiro128** (Blackman & Vigna):
 * 32-bit integer arithmetic only, so it is fast in V8 and gives the same
 * sequence on every platform. The state is filled by splitmix32, so any seed,
 * 0 included, starts well mixed.
 */
export class Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** seed: any safe integer; its high bits (above 2^32) count too, so Date.now() works. */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) throw new RangeError(`Random: seed must be a safe integer, got ${seed}`);
    let x = (seed >>> 0) ^ Math.imul(Math.floor(seed / 0x1_0000_0000) | 0, 0x9e3779b1);
    const splitmix32 = (): number => {
      x = (x + 0x9e3779b9) | 0;
      let z = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) | 0;
    };
    // splitmix32 is a bijection of its counter, so the four words are never all zero.
    this.a = splitmix32();
    this.b = splitmix32();
    this.c = splitmix32();
    this.d = splitmix32();
  }

  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    const b = this.b;
    const r = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    this.c ^= this.a;
    this.d ^= b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return r;
  }

  /** A uniform number in [0, 1), in steps of 2^-32. */
  next(): number {
    return this.u32() / 0x1_0000_0000;
  }

  /** A uniform integer in [0, n), without modulo bias; n is an integer in [1, 2^32]. */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 0x1_0000_0000) {
      throw new RangeError(`Random.int: n must be an integer in [1, 2^32], got ${n}`);
    }
    // Reject the top partial block of 2^32 so every residue is equally likely.
    const limit = 0x1_0000_0000 - (0x1_0000_0000 % n);
    for (;;) {
      const r = this.u32();
      if (r < limit) return r % n;
    }
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
