// Template bodies of the "fwht" kernels (see fwht.hpp). Included only by the
// per-instruction-set translation units fwht_<isa>.cpp, each of which
// instantiates them with vector operations of its own declared in an anonymous
// namespace, so every instantiation has internal linkage and the linker never
// keeps a copy built with one unit's target flags for another. Nothing from
// the standard library is used here.
//
// The Isa argument provides a vector V of W = 2^kLogW floats:
//   load(p), store(p, v), zero(), splat(f), add(a, b), sub(a, b), max(a, b),
//   min(a, b), lanes(v, out[W]), first_equal(v, f) (lowest lane holding f, or -1),
//   in_vector(v): stages 0..kLogW-1 of the transform within the vector.
// add and sub must be the IEEE float32 x + y and x - y of every lane.
#pragma once

#include <cstddef>
#include <cstdint>

#include "fwht.hpp"
#include "fwht_math.hpp"

namespace fuzzykey {
namespace fwht_impl {

// Scalar operations (W = 1), for the generic set and for transforms shorter
// than a vector. Tag: a type of the including unit's anonymous namespace.
template <class Tag>
struct Scalar {
  using V = float;
  static constexpr int kLogW = 0;
  static V load(const float* p) { return *p; }
  static void store(float* p, V v) { *p = v; }
  static V zero() { return 0.0f; }
  static V splat(float f) { return f; }
  static V add(V a, V b) { return a + b; }
  static V sub(V a, V b) { return a - b; }
  static V max(V a, V b) { return a > b ? a : b; }
  static V min(V a, V b) { return a < b ? a : b; }
  static void lanes(V v, float* out) { out[0] = v; }
  static int first_equal(V v, float f) { return v == f ? 0 : -1; }
  static V in_vector(V v) { return v; }
};

template <class Isa>
struct Fwht {
  using V = typename Isa::V;
  static constexpr size_t W = size_t(1) << Isa::kLogW;

  // Per-lane top two of the values seen: best[l] >= second[l].
  struct Lanes {
    V best, second;
  };

  static Lanes lanes_empty() { return Lanes{Isa::splat(-INFINITY), Isa::splat(-INFINITY)}; }

  // (b, s) := top two of the multisets summarised by (b, s) and (b2, s2), per lane.
  static void merge(V& b, V& s, V b2, V s2) {
    s = Isa::max(Isa::min(b, b2), Isa::max(s, s2));
    b = Isa::max(b, b2);
  }

  // Folds N vectors into acc as a tree (short dependency chains).
  template <int N>
  static void absorb(Lanes& acc, const V* v) {
    if constexpr (N == 1) {
      merge(acc.best, acc.second, v[0], Isa::splat(-INFINITY));
    } else {
      V b[N / 2], s[N / 2];
      for (int i = 0; i < N / 2; ++i) {
        b[i] = Isa::max(v[2 * i], v[2 * i + 1]);
        s[i] = Isa::min(v[2 * i], v[2 * i + 1]);
      }
      for (int w = N / 2; w > 1; w /= 2) {
        for (int i = 0; i < w / 2; ++i) merge(b[i], s[i], b[i + w / 2], s[i + w / 2]);
      }
      merge(acc.best, acc.second, b[0], s[0]);
    }
  }

  // Stages t = 0..S-1 of a 2^S-point transform of vectors (lane by lane).
  template <int S>
  static void radix(V* v) {
    for (int t = 0; t < S; ++t) {
      for (int j = 0; j < (1 << S); ++j) {
        if (j & (1 << t)) continue;
        const V a = v[j], b = v[j + (1 << t)];
        v[j] = Isa::add(a, b);
        v[j + (1 << t)] = Isa::sub(a, b);
      }
    }
  }

  // One pass of S row stages (rows r and r + 2^t, t = s..s+S-1) over R rows of C
  // floats: row r read at src + r * ss and written at dst + r * ds (in place
  // when they are the same). kPre: the in-vector stages first (the first pass
  // of a block); kScan: fold the results into acc (the last pass).
  //
  // counts (or null): for a pass in place over contiguous rows (C == ss == ds),
  // the running count of LLR entries per group of 2^kFwhtGroupBits floats from
  // x's first float on (LinearPlan::group_start). Stages spread values only
  // within the aligned span of rows they have combined, so a step's span of
  // 2^(s+S) rows that held no entry is still all +0, and stays so: skipped.
  template <int S, bool kPre, bool kScan>
  static void pass(const float* src, size_t ss, float* dst, size_t ds, int s, size_t R, size_t C,
                   Lanes* acc, const uint32_t* counts) {
    const size_t h = size_t(1) << s, group = h << S;
    const size_t span = group * ss;  // floats per step's span of rows
    const bool skip = !kScan && counts && span % (size_t(1) << kFwhtGroupBits) == 0;
    Lanes local = kScan ? *acc : lanes_empty();
    for (size_t g = 0; g < R; g += group) {
      if (skip && counts[(g * ss) >> kFwhtGroupBits] == counts[(g * ss + span) >> kFwhtGroupBits]) continue;
      for (size_t r = g; r < g + h; ++r) {
        const float* p = src + r * ss;
        float* q = dst + r * ds;
        for (size_t c = 0; c < C; c += W) {
          V v[1 << S];
          for (int j = 0; j < (1 << S); ++j) {
            v[j] = Isa::load(p + c + j * h * ss);
            if (kPre) v[j] = Isa::in_vector(v[j]);
          }
          radix<S>(v);
          for (int j = 0; j < (1 << S); ++j) Isa::store(q + c + j * h * ds, v[j]);
          if (kScan) absorb<(1 << S)>(local, v);
        }
      }
    }
    if (kScan) *acc = local;
  }

  template <int S>
  static void pass_any(const float* src, size_t ss, float* dst, size_t ds, int s, size_t R, size_t C,
                       bool pre, Lanes* acc, const uint32_t* counts) {
    if (pre) {
      if (acc) pass<S, true, true>(src, ss, dst, ds, s, R, C, acc, counts);
      else pass<S, true, false>(src, ss, dst, ds, s, R, C, acc, counts);
    } else {
      if (acc) pass<S, false, true>(src, ss, dst, ds, s, R, C, acc, counts);
      else pass<S, false, false>(src, ss, dst, ds, s, R, C, acc, counts);
    }
  }

  // The whole transform over the row index of 2^rbits rows of C floats, read
  // from src (row r at src + r * ss) and left at dst (row r at dst + r * ds):
  // the first pass moves the rows, the others work in place at dst. Radix 8
  // while at least three stages are left, the smaller step first (so that the
  // last pass, which may scan, is a wide one). pre: the in-vector stages come
  // first, fused into the first pass; acc (or null): where the last pass folds
  // the results; counts (or null): see pass (in place, contiguous rows only).
  static void rows(const float* src, size_t ss, float* dst, size_t ds, int rbits, size_t C, bool pre,
                   Lanes* acc, const uint32_t* counts = nullptr) {
    const size_t R = size_t(1) << rbits;
    if (rbits == 0) {
      if (pre || acc || src != dst) pass_any<0>(src, ss, dst, ds, 0, R, C, pre, acc, counts);
      return;
    }
    int S = rbits % 3 ? rbits % 3 : 3;
    for (int s = 0; s < rbits; s += S, S = 3) {
      const bool first = s == 0, last = s + S == rbits;
      const float* from = first ? src : dst;
      const size_t fs = first ? ss : ds;
      Lanes* a = last ? acc : nullptr;
      switch (S) {
        case 1:
          pass_any<1>(from, fs, dst, ds, s, R, C, pre && first, a, counts);
          break;
        case 2:
          pass_any<2>(from, fs, dst, ds, s, R, C, pre && first, a, counts);
          break;
        default:
          pass_any<3>(from, fs, dst, ds, s, R, C, pre && first, a, counts);
      }
    }
  }

  static void zero(float* x, size_t count) {
    for (size_t i = 0; i < count; i += W) Isa::store(x + i, Isa::zero());
  }

  // Best and runner-up of the values acc summarises; index left at kNoIndex.
  static Top2 reduce(const Lanes& acc) {
    float b[W], s[W];
    Isa::lanes(acc.best, b);
    Isa::lanes(acc.second, s);
    float best = -INFINITY, second = -INFINITY;
    for (size_t l = 0; l < 2 * W; ++l) {
      const float v = l < W ? b[l] : s[l - W];
      if (v > best) {
        second = best;
        best = v;
      } else if (v > second) {
        second = v;
      }
    }
    return Top2{best, second, kNoIndex};
  }

  // The smallest index holding `value` among R rows of C floats, row r at x + r *
  // stride; the float at (r, c) has index base + r * index_stride + c. Rows in
  // order, then columns, so the first hit is the smallest index.
  static uint32_t find(const float* x, size_t R, size_t stride, size_t C, float value, size_t base,
                       size_t index_stride) {
    for (size_t r = 0; r < R; ++r) {
      for (size_t c = 0; c < C; c += W) {
        const int l = Isa::first_equal(Isa::load(x + r * stride + c), value);
        if (l >= 0) return static_cast<uint32_t>(base + r * index_stride + c + static_cast<size_t>(l));
      }
    }
    return kNoIndex;  // not reached: value is one of the scores
  }

  // The three levels of the schedule (fwht.hpp): stages [0, low) block by block,
  // [low, low + mid) in place on each superblock of 2^(low + mid) floats, and
  // [low + mid, k) on gathered column chunks.
  struct Shape {
    int low, mid, high;
    size_t block;   // 2^low floats
    size_t super;   // 2^(low + mid) floats
    size_t chunk;   // columns per chunk of the high stages
  };

  static Shape shape(int k) {
    const int low = k < kFwhtBlockBits ? k : kFwhtBlockBits;
    const int top = k < kFwhtSuperBits ? k : kFwhtSuperBits;
    const size_t super = size_t(1) << top;
    size_t chunk = kFwhtChunkFloats >> (k - top);
    if (chunk > super) chunk = super;
    if (chunk < W) chunk = W;
    return Shape{low, top - low, k - top, size_t(1) << low, super, chunk};
  }

  // Superblock number s of the scores from the plan: zeroed, the LLRs added,
  // stages [0, low + mid) done; acc: where the last of these stages folds the
  // scores (when they are the last), or null. Where no LLR entry fell, the
  // scores stay +0 through every butterfly, so those spans are only zeroed
  // (see pass): the same values as doing the stages, without the work.
  static void plan_superblock(float* scores, size_t s, const Shape& sh, const float* llr,
                              const LinearPlan& plan, Lanes* acc) {
    float* x = scores + s * sh.super;
    const int gbits = sh.low < kFwhtGroupBits ? sh.low : kFwhtGroupBits;  // k < 6: one group
    const size_t per_block = sh.block >> gbits, blocks = size_t(1) << sh.mid;
    const uint32_t* start = plan.group_start + s * blocks * per_block;
    const bool sparse = gbits == kFwhtGroupBits;
    Lanes* block_acc = sh.mid == 0 ? acc : nullptr;
    for (size_t b = 0; b < blocks; ++b) {
      float* blk = x + b * sh.block;
      const uint32_t* bs = start + b * per_block;
      zero(blk, sh.block);
      if (!block_acc && bs[0] == bs[per_block]) continue;  // stays all +0
      for (uint32_t e = bs[0]; e < bs[per_block]; ++e) scores[plan.targets[e]] += llr[plan.sources[e]];
      rows(blk, W, blk, W, sh.low - Isa::kLogW, W, true, block_acc, sparse ? bs : nullptr);
    }
    if (sh.mid > 0) rows(x, sh.block, x, sh.block, sh.mid, sh.block, false, acc, sparse ? start : nullptr);
  }

  // The stages [0, low + mid) of superblock number s of x (no plan: testing).
  static void superblock(float* x, size_t s, const Shape& sh) {
    float* y = x + s * sh.super;
    const size_t blocks = size_t(1) << sh.mid;
    for (size_t b = 0; b < blocks; ++b) {
      float* blk = y + b * sh.block;
      rows(blk, W, blk, W, sh.low - Isa::kLogW, W, true, nullptr);
    }
    if (sh.mid > 0) rows(y, sh.block, y, sh.block, sh.mid, sh.block, false, nullptr);
  }

  // In-place transform of 2^k floats, k >= kLogW, with the workspace of
  // fwht_workspace_floats(k) floats (testing: the stages of decode, and the
  // result written back).
  static void transform(float* x, int k, float* work) {
    const Shape sh = shape(k);
    const size_t supers = size_t(1) << sh.high;
    for (size_t s = 0; s < supers; ++s) superblock(x, s, sh);
    if (sh.high == 0) return;
    float* buf = work + (size_t(1) << k);
    for (size_t c = 0; c < sh.super; c += sh.chunk) {
      rows(x + c, sh.super, buf, sh.chunk, sh.high, sh.chunk, false, nullptr);
      for (size_t r = 0; r < supers; ++r) {
        for (size_t i = 0; i < sh.chunk; i += W) {
          Isa::store(x + c + r * sh.super + i, Isa::load(buf + r * sh.chunk + i));
        }
      }
    }
  }

  // Scores of every message into work (the high stages chunk by chunk in the
  // buffer past the 2^k scores), and their top two.
  static Top2 decode(const float* llr, const LinearPlan& plan, float* work) {
    const int k = plan.k;
    const Shape sh = shape(k);
    const size_t supers = size_t(1) << sh.high;
    Lanes acc = lanes_empty();
    for (size_t s = 0; s < supers; ++s) {
      plan_superblock(work, s, sh, llr, plan, sh.high == 0 ? &acc : nullptr);
    }
    if (sh.high == 0) {
      Top2 t = reduce(acc);
      t.index = find(work, sh.super / W, W, W, t.best, 0, W);
      return t;
    }
    // The high stages gather each column chunk into a contiguous buffer: rows
    // 2^kFwhtSuperBits floats apart would share a handful of cache sets.
    float* buf = work + (size_t(1) << k);
    Top2 result = top2_empty();
    for (size_t c = 0; c < sh.super; c += sh.chunk) {
      acc = lanes_empty();
      rows(work + c, sh.super, buf, sh.chunk, sh.high, sh.chunk, false, &acc);
      Top2 t = reduce(acc);
      // Only a chunk that can win (or tie) needs its index: rarely after the first chunks.
      if (!(t.best < result.best)) t.index = find(buf, supers, sh.chunk, sh.chunk, t.best, c, sh.super);
      result = top2_merge(result, t);
    }
    return result;
  }
};

// The kernel entries of one set: Isa for transforms of at least one vector,
// Small (scalar) for shorter ones.
template <class Isa, class Small>
void transform(float* x, int k, float* work) {
  if (k < Isa::kLogW) {
    Fwht<Small>::transform(x, k, work);
  } else {
    Fwht<Isa>::transform(x, k, work);
  }
}

template <class Isa, class Small>
Top2 decode(const float* llr, const LinearPlan& plan, float* work) {
  if (plan.k < Isa::kLogW) return Fwht<Small>::decode(llr, plan, work);
  return Fwht<Isa>::decode(llr, plan, work);
}

}  // namespace fwht_impl
}  // namespace fuzzykey
