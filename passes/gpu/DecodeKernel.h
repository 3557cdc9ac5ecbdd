// The decode kernel emitter of attn-lower-to-gpu: its thread layout and
// state. DecodeKernel.cpp builds the kernel, DecodeOps.cpp lowers each tile
// op, DecodePipeline.cpp runs the cp.async ring of K/V tiles, Grid.cpp maps
// the grid.
//
// Decode thread layout (docs/runtime_abi.md has the kernel parameters): a row
// of head_dim elements is covered by TPR threads (lanes), each holding C
// chunks of 16 bytes, chunk c of lane l being the row's chunk c * TPR + l
// (DecodeLayout.h chooses TPR and C, or the decode-lanes option TPR); a
// lane's chunk past head_dim / 8 (head dims 80, 96, 160, 192) addresses the
// row's last chunk, holds zeros of q, copies and stores nothing. A call of a
// smaller head_dim (the head_dim parameter, a multiple of 8) runs zero-padded:
// the chunks past its own zero-fill their slots of the stages, hold zeros of q
// and store nothing to out. The CTA's threads form NG = threads / TPR row
// groups. Key n of a KV tile belongs to row group n % NG, which copies it into
// its own slots of the shared-memory stage with cp.async and later reads only
// those slots, so the pipeline needs no CTA barrier. A stage holds a tile's
// keys row-major where a lane holds one chunk; where it holds C > 1, slot-major
// ([C][block_n][TPR] chunks), so that a quarter-warp's 16-byte reads of one
// slot cover 128 contiguous bytes whatever the row's length (no bank conflict).
// Each row group runs the online-softmax recurrence of the IR on its share of
// every tile (the recurrence is associative), and attn.normalize merges the NG
// partial states through shared memory, like attn.combine merges splits.
//
// KV heads a CTA (decode-kv-heads H > 1, a kernel specialised on G, one
// token a CTA): a row group's threads are H lane groups of TPR lanes, lane
// group h running the program for KV head (grid head block) * H + h, so that
// the copies of a key read the H heads' adjacent rows of the cache together
// (H x head_dim x 2 bytes, where one head's row of a small head_dim is 64 or
// 128 bytes of a longer row). A stage's key row is then H x head_dim
// elements, lane group h's at h x head_dim (slot-major: [C][block_n][H x
// TPR] chunks); the merge buffers keep a state per lane group. A lane group
// past the last KV head (Hkv not a multiple of H) repeats the last head's work
// and stores nothing.
#ifndef ATTN_PASSES_GPU_DECODEKERNEL_H
#define ATTN_PASSES_GPU_DECODEKERNEL_H

#include "passes/gpu/KernelBuilder.h"

namespace mlir {
namespace attn {

/// Decode fragments: for a [M, D] tile each thread holds rows x C x 8
/// columns (its C 16-byte chunks, row-major); for a [M, N] score tile rows x
/// keysPerThread; for a [M] tile one value per row. `merged` tiles (after
/// attn.normalize) hold the rows `rowGroup + NG * j` only.
class DecodeKernelEmitter : public KernelEmitterBase {
public:
  DecodeKernelEmitter(func::FuncOp func, gpu::GPUModuleOp module,
                      LLVM::GlobalOp smem, int64_t stages, int64_t threads,
                      int64_t lanes, int64_t kvHeads)
      : KernelEmitterBase(func, module, smem), stages(stages), threads(threads),
        lanesOption(lanes), kvHeads(kvHeads) {}

  LogicalResult emit();

protected:
  // Kernel construction.
  LogicalResult analyse();
  /// The thread layout's facts (analyse, after the program's): TPR, C, the
  /// row groups and keys a thread, checked against the options.
  virtual LogicalResult analyseLayout();
  /// The decode-kv-heads option's checks, for both layouts: a power of two,
  /// above 1 only on a kernel specialised on G with one token a CTA.
  LogicalResult checkKvHeads();
  void createKernel();
  /// The thread's place in the layout (createKernel, before mapGrid).
  virtual void setUpThreads();
  /// Maps the tiled grid's induction variables to CTA indices (Grid.cpp).
  void mapGrid();
  /// The sequence CTA z runs: the batch ranked longest first (Grid.cpp).
  Value rankBatch(Value z);
  /// The batches rankBatch ranks, and its buckets of lengths. Measured on an
  /// H200 (bench/results/decode_order_h200_2026-12-04.md): below 16
  /// sequences (small grids, split across the SMs) and above 512 its cost in
  /// every CTA outweighed the order.
  static constexpr int64_t kMinRankedBatch = 16;
  static constexpr int64_t kMaxRankedBatch = 512;
  static constexpr int64_t kRankBuckets = 256;
  /// The dynamic shared memory: the K/V stages, reused by attn.normalize's
  /// merge buffers (DecodeOps.cpp), whichever is larger.
  virtual int64_t sharedMemoryBytes() const;
  /// Values a thread holds of a [M] tile, a [M, D] tile and a [M, N] score
  /// tile (constants, scf.if results).
  virtual int64_t rowTileValues() const { return rows; }
  virtual int64_t accValues() const { return rows * rowValues(); }
  virtual int64_t scoreValues() const { return rows * keysPerThread; }

  /// Loads 8 consecutive elements (16 bytes) and widens them to f32.
  SmallVector<Value> load8(Value ptr, Type elt);
  /// load8 of one of this lane's chunks of a K or V stage row; zeros where
  /// `active` (the chunk's, null: always) is false (DecodeOps.cpp).
  SmallVector<Value> loadStage8(Value ptr, Value active);
  /// This lane's chunks (rowValues() values) of key `key`'s row of a K or V
  /// stage starting at `stage`.
  SmallVector<Value> loadStageRow(Value stage, Value key);
  /// The element offset, within a K or V tile of a stage, of chunk `c` of
  /// this lane (laneChunks[c]) of key `key`.
  Value stageSlot(Value key, int64_t c);
  /// The start of `stage`'s K (which 0) or V (which 1) tile.
  Value stageTile(Value stage, int64_t which) {
    Value start = mul(stage, idx(2 * blockN * stageRowElements()));
    return gep(smemBase, elementType,
               which ? add(start, idx(which * blockN * stageRowElements()))
                     : start);
  }
  /// Elements of one key's row in a stage: kvHeads x head_dim, or C x
  /// kvHeads x TPR x 8 where a lane holds C > 1 chunks (slot-major).
  int64_t stageRowElements() const {
    return kvHeads * (chunks == 1 ? headDim : chunks * threadsPerRow * 8);
  }
  void store8(Value ptr, Type elt, ArrayRef<Value> values);

  // IR walking.
  LogicalResult emitOp(Operation *op) override;
  // One lowering per tile op (DecodeOps.cpp).
  virtual LogicalResult lowerLoadQ(LoadQOp loadQ);
  LogicalResult lowerQK(QKOp qk) override;
  LogicalResult lowerMask(MaskOp mask) override;
  LogicalResult lowerRowMax(RowMaxOp rowMax) override;
  LogicalResult lowerRowSum(RowSumOp rowSum) override;
  LogicalResult lowerExp2Diff(Exp2DiffOp diff) override;
  LogicalResult lowerPV(PVOp pv) override;
  LogicalResult lowerScaleRows(ScaleRowsOp scale) override;
  LogicalResult lowerNormalize(NormalizeOp normalize) override;
  /// Visits the `count` partial states of row `row` in attn.normalize's merge
  /// buffers (state s at slot s x rows + row): `body(slot, carried)` for each,
  /// unrolled, or with `loop` as an scf.for whose body holds one state's
  /// loads; returns what the last call returned.
  SmallVector<Value>
  overStates(int64_t count, Value row, bool loop, SmallVector<Value> init,
             function_ref<SmallVector<Value>(Value, ValueRange)> body);
  /// Merges row `row`'s partial states (m, l, acc) as attn.combine merges
  /// splits: `m(slot)` and `l(slot)` load a state's max and sum, `acc(slot,
  /// c)` its 8 values of chunk c (of `chunkCount`). Returns the 8 x
  /// chunkCount values over the merged sum (0 for a row without keys) and
  /// the row's lse.
  std::pair<SmallVector<Value>, Value>
  mergeStates(int64_t count, Value row, bool loop, function_ref<Value(Value)> m,
              function_ref<Value(Value)> l,
              function_ref<SmallVector<Value>(Value, int64_t)> acc,
              int64_t chunkCount);
  virtual LogicalResult lowerStore(StoreOp store);
  LogicalResult emitKvLoop(scf::ForOp loop);
  virtual void issueTileCopies(Value tileStart, Value limit, Value stage,
                               ArrayRef<KvTileOp> loads, Value batch,
                               Value kvHead);
  /// locate(load, key, laneKey, keyOffset, column): the element offset in
  /// `load`'s cache of column `column` (i64 or index) of the tile's key `key`
  /// = `laneKey` (the lane's, made once a kernel) + `keyOffset`, and whether
  /// the key lies before the limit.
  using LocateKey = function_ref<std::pair<Value, Value>(
      KvTileOp, Value key, Value laneKey, int64_t keyOffset, Value column)>;
  /// Emits a tile's copies, `copies(locate)`, with the keys of the tile at
  /// `tileStart` (before `limit`) located by `locate`: where onePageTiles,
  /// from the page's block_table entry read once, at 32-bit lane offsets
  /// (key x row stride + column, made once a kernel) from the tile's row;
  /// under perTile, so where the tile lies in one page and each key alone
  /// otherwise (`copies` emitted twice under an scf.if); else each key alone
  /// (a paged cache: its block_table entry read and its position divided by
  /// the page size).
  void emitTileCopies(Value tileStart, Value limit, ArrayRef<KvTileOp> loads,
                      Value batch, Value kvHead,
                      function_ref<void(LocateKey)> copies);
  /// Whether K's and V's rows (`loads`' caches) are equally far apart and
  /// block_n rows lie within 2^31 elements (uniform).
  Value narrowEqualRows(ArrayRef<KvTileOp> loads);
  /// Whether every tile of the kernel lies in one page and narrowEqualRows
  /// (uniform).
  Value wholePageTiles(ArrayRef<KvTileOp> loads, Value begin);
  /// Whether the lanes of a warp read each other's copies of a stage (the
  /// tensor-core kernel's ldmatrix): the loop then meets at a warp barrier
  /// after each wait and before each stage's next copies.
  bool warpSharedStages = false;
  /// How a paged kernel locates its keys. perKey: every key alone, a 32-bit
  /// division each. perTile: one KV loop in which a tile inside one page
  /// (checked per tile) reads its page's entry once, the other tiles dividing
  /// positions through pageReciprocal (emitTileCopies). twoLoops: the KV loop
  /// twice (emitKvLoop), one whose tiles each lie in one page
  /// (onePageTiles), taken where wholePageTiles, and one dividing through
  /// pageReciprocal; each loop keeps only its own invariants live.
  enum class PagePath { perKey, perTile, twoLoops };
  PagePath pagePath = PagePath::twoLoops;
  /// Whether the loop being emitted is twoLoops' one-page loop.
  bool onePageTiles = false;

  int64_t stages, threads;
  /// The decode-lanes option: TPR, or 0 for DecodeLayout.h's choice.
  int64_t lanesOption;
  /// The decode-kv-heads option: KV heads a CTA (lane groups a row group).
  int64_t kvHeads;

  // Problem facts read from the tiled IR.
  int64_t rows = 0, headDim = 0, blockN = 0;
  /// Query tokens a tile holds (attn.load_q's rows / rows_per_token; 1
  /// without it): grid y counts blocks of them.
  int64_t tokensPerCta = 1;
  /// Whether the grid's last dimension is the KV head (a kernel specialised
  /// on G), not a block of an any-group kernel's heads.
  bool specialisedOnGroup = false;
  int64_t threadsPerRow = 0, chunks = 0, rowGroups = 0, keysPerThread = 0;
  /// Values per row of a [M, D] fragment: chunks x 8.
  int64_t rowValues() const { return chunks * 8; }
  Type elementType;
  Value qArg, kArg, vArg, lensArg, tableArg, outArg, lseArg, partOutArg,
      partLseArg, splitsArg;
  scf::ParallelOp grid;

  /// One of the thread's chunks of a row: `index`, the row's chunk (clamped
  /// to the last one); `active`, whether it is the lane's own, null when
  /// every lane's is; `inCall`, whether it lies within the call's head_dim
  /// (the head_dim parameter), `bytes` what its copies take (16, or 0 past
  /// it), and `callOffset` the element offset global reads take (the call's
  /// last chunk past it).
  struct LaneChunk {
    /// `slot`: the chunk's place in a stage's key row and a merge buffer's
    /// row (the lane group's chunk index; `index` with one KV head a CTA).
    Value index, slot, active, inCall, bytes, callOffset;
  };

  // Emission state.
  /// `lane`: the thread's lane of its row (0 .. TPR - 1); `headLane`, its
  /// lane group (0 .. kvHeads - 1); `rowLane`, its lane of the row group
  /// in a slot-major stage (headLane x TPR + lane); `headStored`, whether its
  /// KV head exists (null: always).
  Value rowGroup, lane, headLane, rowLane, headStored, smemBase, seqlenQ,
      pageSize, numSplits, batchCount;
  /// A paged kernel's floor((2^32 - 1) / page_size) (dividePosition), made
  /// once a kernel unless pagePath is perKey; null in the other kernels.
  Value pageReciprocal;
  SmallVector<LaneChunk> laneChunks;
  /// The kernel's entry block and its parameter `p`.
  Block *kernelEntry = nullptr;
  Value param(abi::decode::Param p) { return kernelEntry->getArgument(p); }
  Value currentStage;         // stage of the tile being computed
  Value numHeads, numKvHeads; // Hq, Hkv as indices
  Value runtimeScale;         // softmax_scale kernel parameter
};

/// The tensor-core decode kernel (attn-lower-to-gpu's decode-mma), for a
/// kernel specialised on G: the program's rows (the G heads of a KV head, or
/// the G heads of F tokens; at most 16) are the M of mma.sync.m16n8k16, zero
/// past them. Each of the W = threads / 32 warps takes keys w KW .. w KW +
/// KW - 1 of every tile (KW = block_n / W, a multiple of 16): it copies them
/// into its own rows of the stage (cp.async, rows of head_dim elements under
/// mmaSwizzled) and reads them back through ldmatrix (ldmatrix.trans for V),
/// so the ring needs warp barriers, no CTA barrier. Lane l = 4 g + t holds
/// Q as the A fragments of the head_dim / 16 steps of 16 columns (four b32
/// registers each: rows g and g + 8, columns 2 t, 2 t + 1, then 2 t + 8,
/// 2 t + 9 of the step), loaded once from global memory. From head_dim 192
/// on (Q's head_dim / 4 registers and the accumulator's head_dim / 2 spill
/// there), each warp instead stores its Q fragments once into its own tile
/// of shared memory after the ring ([rows rounded up to 8 or 16][head_dim],
/// under mmaSwizzled) and reads each step's A fragment back by ldmatrix in
/// every QK^T (.x2 with rows 8-15 as zero registers when the rows fit in 8).
/// Of a [M, N] score tile the lane holds the accumulator fragments of the
/// warp's KW / 8 blocks of 8 keys (value 4 j + e: row g + 8 (e / 2), key
/// w KW + 8 j + 2 t + e % 2); of a [M, D] tile those of the head_dim / 8
/// blocks of 8 columns; of a [M] tile
/// rows g and g + 8 (a quad's four lanes reduce with two xor shuffles). P
/// goes from its accumulator fragments to A fragments in registers.
/// attn.normalize merges the W warps' states through shared memory; its
/// results are, for thread i, the items i + threads k (k = 0, 1, ..) of the
/// rows x head_dim / 8 chunks: 8 values and the row's lse each.
///
/// A 16-key step of a warp costs head_dim / 4 MMAs and head_dim / 8
/// ldmatrix.x4 where the scalar kernel spends head_dim x G FMAs a key and
/// row group.
///
/// KV heads a CTA (decode-kv-heads H > 1, one token a CTA): warp w runs KV
/// head (grid head block) x H + w % H on keys (w / H) KW .. of every tile,
/// KW = block_n H / W, so the H warps of a share copy the H heads' adjacent
/// rows of each key together. A stage holds [K, V][H][block_n][head_dim];
/// attn.normalize merges each head's W / H warps. A warp past the last KV
/// head repeats its work and stores nothing.
class DecodeMmaKernelEmitter : public DecodeKernelEmitter {
public:
  DecodeMmaKernelEmitter(func::FuncOp func, gpu::GPUModuleOp module,
                         LLVM::GlobalOp smem, int64_t stages, int64_t threads,
                         int64_t kvHeads)
      : DecodeKernelEmitter(func, module, smem, stages, threads, /*lanes=*/0,
                            kvHeads) {
    warpSharedStages = true;
  }

private:
  LogicalResult analyseLayout() override;
  void setUpThreads() override;
  int64_t sharedMemoryBytes() const override;
  int64_t rowTileValues() const override { return 2; }
  int64_t accValues() const override { return headDim / 2; }
  int64_t scoreValues() const override { return keysPerWarp / 2; }
  LogicalResult lowerLoadQ(LoadQOp loadQ) override;
  LogicalResult lowerQK(QKOp qk) override;
  LogicalResult lowerMask(MaskOp mask) override;
  LogicalResult lowerRowMax(RowMaxOp rowMax) override;
  LogicalResult lowerRowSum(RowSumOp rowSum) override;
  LogicalResult lowerExp2Diff(Exp2DiffOp diff) override;
  LogicalResult lowerPV(PVOp pv) override;
  LogicalResult lowerScaleRows(ScaleRowsOp scale) override;
  LogicalResult lowerNormalize(NormalizeOp normalize) override;
  LogicalResult lowerStore(StoreOp store) override;
  void issueTileCopies(Value tileStart, Value limit, Value stage,
                       ArrayRef<KvTileOp> loads, Value batch,
                       Value kvHead) override;

  /// The shared address of 16-byte chunk `chunk` of key row `row` of K
  /// (which 0) or V (1) in `stage`.
  Value tileChunk(Value stage, int64_t which, Value row, Value chunk);
  /// The [M] slot (row g or g + 8) of value k of a [M, X] fragment.
  static int64_t rowSlot(size_t k) { return (k % 4) / 2; }

  /// The ring's bytes: stages x [K, V][KV heads][block_n][head_dim].
  int64_t ringBytes() const;
  /// The bytes of a warp's Q tile in shared memory.
  int64_t qTileBytes() const { return qRows * headDim * 2; }

  int64_t warps = 0, keysPerWarp = 0;
  /// Q's A fragments from shared memory (head_dim >= 192), and the rows of
  /// its tile (8 when the program's rows fit, else 16).
  bool qShared = false;
  int64_t qRows = 16;
  /// The warp's Q tile in shared memory (qShared).
  Value qTile;
  /// The lane's g (its rows g, g + 8) and t (its columns or keys 2 t ..).
  Value warp, groupRow, quadLane;
  /// The byte offset of the warp's KV head's tiles in a stage's K or V.
  Value headTile;
  /// The call's head_dim and its 16-byte chunks, indices.
  Value callHeadDim, callChunks;
  /// attn.normalize's items of this thread: row, chunk, and whether it is
  /// one of the rows x head_dim / 8 (else row 0's chunk 0 stands in, never
  /// stored).
  SmallVector<Value> itemRow, itemChunk, itemValid;
};

} // namespace attn
} // namespace mlir

#endif // ATTN_PASSES_GPU_DECODEKERNEL_H
