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

private:
  // Kernel construction.
  LogicalResult analyse();
  void createKernel();
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
  int64_t sharedMemoryBytes() const;

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
  LogicalResult lowerLoadQ(LoadQOp loadQ);
  LogicalResult lowerQK(QKOp qk) override;
  LogicalResult lowerMask(MaskOp mask) override;
  LogicalResult lowerRowMax(RowMaxOp rowMax) override;
  LogicalResult lowerRowSum(RowSumOp rowSum) override;
  LogicalResult lowerExp2Diff(Exp2DiffOp diff) override;
  LogicalResult lowerPV(PVOp pv) override;
  LogicalResult lowerScaleRows(ScaleRowsOp scale) override;
  LogicalResult lowerNormalize(NormalizeOp normalize) override;
  LogicalResult lowerStore(StoreOp store);
  LogicalResult emitKvLoop(scf::ForOp loop);
  void issueTileCopies(Value tileStart, Value limit, Value stage,
                       ArrayRef<KvTileOp> loads, Value batch, Value kvHead);

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
  SmallVector<LaneChunk> laneChunks;
  Value currentStage;         // stage of the tile being computed
  Value numHeads, numKvHeads; // Hq, Hkv as indices
  Value runtimeScale;         // softmax_scale kernel parameter
};

} // namespace attn
} // namespace mlir

#endif // ATTN_PASSES_GPU_DECODEKERNEL_H
