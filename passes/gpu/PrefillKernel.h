// The prefill kernel emitter of attn-lower-to-gpu: its fragment layout and
// state. PrefillKernel.cpp builds the kernel, PrefillOps.cpp lowers each tile
// op, PrefillPipeline.cpp runs the cp.async ring of K/V tiles (and the paged
// granule look-ups), SharedMemory.cpp lays out and swizzles shared memory,
// MmaSync.cpp holds the tensor-core instructions, Grid.cpp maps the grid.
//
// A CTA of W warps owns block_m = 16 W R query rows of one head: warp w owns
// the R row blocks 16 (r W + w) .. + 15, each the M of an
// mma.sync.m16n8k16, so that every K or V fragment a warp loads from shared
// memory feeds R MMAs. Lane l = 4 g + t (g = l / 4, t = l % 4) holds, of
// every [M, X] f32 tile (scores, P, acc), the accumulator fragments of the
// R x X / 8 blocks: value 4 (r X / 8 + j) + e is row 16 (r W + w) + g +
// 8 (e / 2), column 8 j + 2 t + e % 2. A [M] tile (max, sum, lse) is 2 R
// values per lane: slot 2 r + h is row 16 (r W + w) + g + 8 h; the four
// owners of a row (a quad) reduce with two xor shuffles. P is repacked from
// its accumulator fragments into A fragments without leaving registers.
//
// Q, and the K and V tiles of a multi-stage ring, are copied by all threads
// with 16-byte cp.async into shared memory as rows of D elements whose
// 16-byte chunk c of row n lives at chunk c ^ (n % 8) (the XOR swizzle makes
// the 8 rows an ldmatrix reads hit distinct banks; with head_dim 80 or 160
// the chunks past the last multiple of 8, 2 or 4 of them, swizzle among
// themselves by n % 2 or n % 4). Rows of C = head_dim / 8 chunks are copied
// as rows of C rounded up to a power of two, the threads of the chunks past
// C copying nothing. Q feeds QK^T through
// ldmatrix (A fragments), K tiles through ldmatrix (B fragments), V tiles
// feed PV through ldmatrix.trans. One barrier per tile separates the readers
// of a stage from its next writers. Paged K/V: tiles start at multiples of 16
// keys and pages hold multiples of 16 rows, so each 16-key granule of a tile
// lies in one page; its first row is located through block_table once per
// tile, a stage ahead, into a small table of granule offsets in shared memory
// after the stages, and the copies add the row within the granule.
//
// With wgmma (sm_90a, PrefillWgmma.cpp) the warps form warpgroups of 4 and
// the same fragments are wgmma accumulators: warpgroup g's row block r is
// the m64 tile r W / 4 + g. Q, K and V lie in shared memory in wgmma's
// 128-byte-swizzle layout (Wgmma.h: panels of 64 elements of each row,
// chunk c of row n at c ^ (n % 8)) from a 1024-byte aligned base, QK^T
// reads Q and K through descriptors, and P goes through a shared tile per
// m64 tile (after the stages, before the location slots) to PV, whose B
// operand is the V tile read along D (transposed). With a producer
// warpgroup (PrefillProducer.cpp) the K/V copies, the paged look-ups and
// the ring's synchronisation move to it: the consumers' loop waits on
// mbarriers (after the location slots) instead of copying and meeting at a
// CTA barrier.
#ifndef ATTN_PASSES_GPU_PREFILLKERNEL_H
#define ATTN_PASSES_GPU_PREFILLKERNEL_H

#include "passes/gpu/KernelBuilder.h"
#include "passes/gpu/MmaSync.h"

namespace mlir {
namespace attn {

class PrefillKernelEmitter : public KernelEmitterBase {
public:
  PrefillKernelEmitter(func::FuncOp func, gpu::GPUModuleOp module,
                       LLVM::GlobalOp smem, int64_t stages, int64_t threads,
                       bool wgmma, bool producer, bool tma)
      : KernelEmitterBase(func, module, smem), stages(stages),
        warps((threads - (producer ? kProducerThreads : 0)) / 32), wgmma(wgmma),
        producer(producer), tma(tma) {}
  /// Threads of the producer warpgroup (warp-specialised kernels).
  static constexpr int64_t kProducerThreads = 128;
  /// The producer's registers after setmaxnreg.
  int64_t producerRegisters() const;

  LogicalResult emit();

private:
  LogicalResult analyse();
  void createKernel();
  /// Maps the tiled grid's induction variables to CTA indices (Grid.cpp).
  void mapGrid();
  /// The row tile of sequence `batch` that the CTA at grid z takes.
  Value rankRowTile(Value batch);
  /// Sequence `batch`'s length in cumulative `cuSeqlens`, an i32.
  Value lengthOf(Value cuSeqlens, Value batch) {
    Value ptr = tensorFor(cuSeqlens).ptr;
    return arith::SubIOp::create(b, loc, loadI32(ptr, add(batch, idx(1))),
                                 loadI32(ptr, batch));
  }
  LogicalResult emitOp(Operation *op) override;
  // One lowering per tile op (PrefillOps.cpp).
  LogicalResult lowerSeqLen(SeqLenOp seqLen);
  LogicalResult lowerKvHead(KvHeadOp kvHead);
  LogicalResult lowerLoadQRows(LoadQRowsOp loadQ);
  LogicalResult lowerIf(scf::IfOp ifOp);
  LogicalResult lowerQK(QKOp qk) override;
  LogicalResult lowerMask(MaskOp mask) override;
  LogicalResult lowerRowMax(RowMaxOp rowMax) override;
  LogicalResult lowerRowSum(RowSumOp rowSum) override;
  LogicalResult lowerExp2Diff(Exp2DiffOp diff) override;
  LogicalResult lowerPV(PVOp pv) override;
  LogicalResult lowerScaleRows(ScaleRowsOp scale) override;
  LogicalResult lowerNormalize(NormalizeOp normalize) override;
  LogicalResult emitKvLoop(scf::ForOp loop);
  /// Issues the cp.async copies of K/V tile `tile` into its stage: of every
  /// load, or of load `only` (0 = K, 1 = V), by the copyThreads threads.
  void issueTileCopies(Value tile, Value tileStart, Value limit,
                       ArrayRef<KvTileOp> loads, Value kvHead,
                       std::optional<int64_t> only = std::nullopt);
  /// Paged: where the first key of this thread's 16-key granule of `tile`
  /// lives: its block_table entry (a load still in flight), whether it is a
  /// key of the sequence, and its row in the page (threads past the tile's
  /// blockN / 16 granules get nothing to store).
  struct GranuleLookup {
    Value entry, valid, inPage;
  };
  GranuleLookup findTile(Value tile, Value numTiles, Value tileStart,
                         Value limit, ArrayRef<KvTileOp> loads, Value batch);
  /// Writes the K and V element offsets of what findTile returned into the
  /// location slot of `tile`: the first use of the block_table entry.
  void storeLocation(Value tile, const GranuleLookup &at,
                     ArrayRef<KvTileOp> loads);
  /// The (K, V) i64 offset pair of 16-key granule `granule` in the location
  /// slot of `tile`.
  Value locationSlot(Value tile, Value granule);

  /// The shared-memory address of 16-byte chunk `chunk` of row `row` of
  /// tile `which` (0 = K, 1 = V) of `stage`, swizzled.
  Value tileChunk(Value stage, int64_t which, Value row, Value chunk);
  /// The same for the Q tile, which precedes the stages.
  Value qChunk(Value row, Value chunk);
  /// The dynamic shared memory: the Q tile, the K/V stages, with wgmma the
  /// P tiles and, paged, the location slots of the stages (locationSlot), in
  /// this order (with wgmma from a 1024-byte aligned base).
  int64_t sharedMemoryBytes() const;
  /// Bytes of the P tiles (wgmma; none with mma.sync).
  int64_t pTileBytes() const;
  /// The swizzled byte offset of a chunk in a tile of `tileRows` rows of D
  /// elements.
  Value swizzled(Value row, Value chunk, int64_t tileRows);
  /// Row of row block r (0 .. R-1) and half h of this lane, within the tile.
  Value fragmentRow(int64_t r, int64_t half) {
    return add(add(mul(warp, idx(16)), groupRow),
               idx(16 * warps * r + 8 * half));
  }
  /// The [M] slot (2 r + h) of value k of a [M, cols] fragment.
  int64_t rowSlot(size_t k, int64_t cols) const {
    return 2 * (k / (cols / 2)) + (k % 4) / 2;
  }
  /// ldmatrix .x4 (transposed with `trans`): four b32 registers.
  SmallVector<Value> loadMatrices(Value ptr, bool trans) {
    return mma_sync::loadMatrices(b, loc, ptr, trans);
  }
  /// D = A B + C for one m16n8k16 tile: A four, B two b32 registers, C and
  /// the result four f32 values.
  SmallVector<Value> mma(ArrayRef<Value> a, Value b0, Value b1,
                         ArrayRef<Value> c) {
    return mma_sync::mma(b, loc, elementType, a, b0, b1, c);
  }
  /// a * b for a non-negative index or i32 and an i64 stride below 2^31, as
  /// a 32 x 32 -> 64-bit multiply.
  Value wideMul(Value a, Value stride) {
    Type i32t = b.getI32Type(), i64t = b.getI64Type();
    if (a.getType().isIndex())
      a = arith::IndexCastUIOp::create(b, loc, i32t, a);
    Value narrow = arith::TruncIOp::create(b, loc, i32t, stride);
    return arith::MulIOp::create(b, loc,
                                 arith::ExtUIOp::create(b, loc, i64t, a),
                                 arith::ExtUIOp::create(b, loc, i64t, narrow));
  }
  /// Two f32 values as one b32 register of two elements of elementType.
  Value pack(Value lo, Value hi) {
    return mma_sync::pack(b, loc, elementType, lo, hi);
  }
  /// Row-wise reduction of a [M, X] fragment within each quad.
  Fragment reduceRows(const Fragment &in, bool max);
  /// Accumulates P V into `acc` (an [M, D] fragment); V is the stage's tile.
  Fragment emitPV(Value pTile, Fragment acc);
  /// The unscaled scores of QK^T, through mma.sync or wgmma
  /// (PrefillWgmma.cpp).
  Fragment emitQKMmaSync();
  Fragment emitQKWgmma();
  /// PV accumulated onto `acc` from P's fragments `p`.
  Fragment emitPVMmaSync(const Fragment &p, Fragment acc);
  Fragment emitPVWgmma(const Fragment &p, Fragment acc);
  /// wgmma: stores P's fragments to this warpgroup's P tiles (PV's A).
  void storePTiles(const Fragment &p);
  /// wgmma: issues acc += P V from the P tiles and `vTile`, uncommitted.
  Fragment issuePV(Fragment acc, Value vTile);
  /// wgmma, the deferred PV (deferredAcc): finds whether the K/V loop's
  /// accumulator is carried as acc * alpha + P V of the tile (its pv_acc
  /// onto a scale_rows of the loop's iter_arg, yielded in the same place).
  void findDeferrablePV();
  /// The deferred PV of the previous tile, issued after this tile's QK:
  /// rebinds the loop's accumulator to the (in-flight) result.
  void issueDeferredPV();
  /// Waits for the deferred PV if it is in flight.
  void awaitDeferredPV();
  /// After the K/V loop (of `numTiles` tiles): the last tile's deferred PV
  /// onto the loop's accumulator.
  void emitLastPV(scf::ForOp loop, Value numTiles);
  /// The shared-window address (i32) of shared pointer `ptr`.
  Value sharedAddress(Value ptr);
  /// This warp's warpgroup, the m64 tile of its row block r and that
  /// tile's first row.
  Value warpgroup();
  Value m64Tile(int64_t r) { return add(idx(r * (warps / 4)), warpgroup()); }
  Value tileRow(int64_t r) { return mul(m64Tile(r), idx(64)); }
  /// The first byte after the K/V stages (wgmma's P tiles, then the location
  /// slots), and K (which 0) or V (1) of the current stage.
  Value afterStages() {
    return gep(stagesBase, elementType, idx(stages * 2 * blockN * tileDim));
  }
  Value kvTile(Value stage, int64_t which) {
    return gep(stagesBase, elementType,
               add(mul(stage, idx(2 * blockN * tileDim)),
                   idx(which * blockN * tileDim)));
  }
  Value currentKvTile(int64_t which) { return kvTile(currentStage, which); }
  /// wgmma: the P tile of row block r (after the stages).
  Value pTile(int64_t r) {
    return gep(afterStages(), b.getI8Type(),
               mul(m64Tile(r),
                   idx(64 * blockN * elementType.getIntOrFloatBitWidth() / 8)));
  }
  /// Location slots in the paged ring: a stage's, one more when V lags K.
  int64_t locationSlots() const { return stages + (deferredAcc ? 1 : 0); }
  /// Bytes of the location slots: per slot, blockN / 16 granules of a (K, V)
  /// pair of i64 offsets.
  int64_t locationBytes() const {
    return tableArg ? locationSlots() * (blockN / 16) * 2 * 8 : 0;
  }
  /// attn.store_rows: this thread's rows of the tile into out (and lse), or
  /// with a split into the split-KV workspace.
  LogicalResult emitStore(StoreRowsOp store);
  /// The stores of emitStore; with `guardColumns` each block of 8 columns of
  /// out only where it lies within the call's head_dim.
  void emitStoreRows(StoreRowsOp store, bool guardColumns);

  // The warp-specialised kernel (`producer`, PrefillProducer.cpp): the
  // consumer warpgroups (warps 0 .. warps - 1) compute, the producer
  // warpgroup after them copies the K/V tiles. Per stage four mbarriers:
  // K and V "full" (completed by the producer's 128 threads'
  // cp.async.mbarrier.arrive when their copies land) and K and V "empty"
  // (an arrive by lane 0 of every consumer warp once its wgmmas reading the
  // stage have completed). Both sides count uses of a stage: use n of
  // stage s waits for phase n of "full" (parity n % 2) and, from n = 1 on,
  // the producer for phase n - 1 of "empty" (parity (n + 1) % 2, which a
  // fresh barrier passes at n = 0).
  enum class Barrier { FullK, FullV, EmptyK, EmptyV };
  /// Initialises the mbarriers (thread 0; the CTA meets after it), then
  /// emits `body` twice: for the producer warpgroup (producerMode, its
  /// registers lowered with setmaxnreg) and for the consumers (raised).
  LogicalResult emitWarpSpecialised(function_ref<LogicalResult()> body);
  /// The producer's K/V loop: per tile, K into its stage when the stage is
  /// empty, then the previous tile's V (V lags K), each signalled on its
  /// "full" barrier; paged, the tile's granules are located first.
  LogicalResult emitProducerLoop(scf::ForOp loop);
  /// The consumers' K/V loop: per tile, a wait for its K; the deferred PV
  /// waits for its V (issueDeferredPV) and the stages are released as their
  /// wgmmas complete.
  LogicalResult emitConsumerLoop(scf::ForOp loop);
  /// The mbarrier `kind` of `stage`, after the location slots.
  Value mbarrier(Barrier kind, Value stage);
  int64_t barrierBytes() const { return producer ? 4 * stages * 8 : 0; }
  /// Waits for the phase of parity `parity` (an i32) of `barrier`.
  void waitBarrier(Value barrier, Value parity);
  /// Consumers: waits for the producer's copies of tile `tile` into `stage`
  /// ("full" barrier `kind`, its use of parity `parity`) and makes cp.async
  /// copies visible to wgmma (a proxy fence; TMA's writes are the async
  /// proxy's own, which the barrier's completion publishes).
  void awaitFull(Barrier kind, Value stage, Value parity, Value tile);
  /// Whether the producer copies the tile of keys [start, start + block_n)
  /// by TMA: the launch enables it and every key lies before `limit` (paged:
  /// within one page, `inPage` being start's row in its page).
  Value copiedByTma(Value start, Value limit, Value inPage);
  /// The consumers' KV loop: its first key, limit, and whether paged
  /// (emitConsumerLoop).
  Value consumerBegin, consumerLimit;
  bool consumerPaged = false;
  /// The parity of the use of its stage by tile `tile`, an i32.
  Value useParity(Value tile);
  /// Lane 0 of this consumer warp arrives on "empty" barrier `kind` of
  /// `stage` (when `when`, if given, holds).
  void releaseStage(Barrier kind, Value stage, Value when = Value());
  /// bar.sync `id`, `threads`: a named barrier of some of the CTA's threads.
  void namedBarrier(Value id, int64_t threads);
  /// wgmma: this warpgroup's P stores become visible to its wgmmas: a proxy
  /// fence and the warpgroup's named barrier (1 + its index; 0 is the
  /// CTA's).
  void publishPTiles();
  /// Named barriers after the warpgroups': all consumers, the producer.
  int64_t consumersBarrier() const { return 1 + warps / 4; }
  int64_t producerBarrier() const { return 2 + warps / 4; }

  /// Pipeline stages, consumer warps.
  int64_t stages, warps;
  /// QK^T and PV through wgmma (sm_90a) rather than mma.sync.
  bool wgmma;
  /// Warp-specialised: a producer warpgroup after the consumers' warps.
  bool producer;
  /// The pass's tma option: the producer copies whole K/V tiles by TMA
  /// through abi::tma's tensor maps.
  bool tma;
  /// One of tile `tile`'s K (which 0) or V (1) tiles of sequence `batch`
  /// into `stage`, signalled on its "full" barrier `kind`: by TMA when the
  /// launch enables it and the tile's keys [start, start + block_n) all lie
  /// before `limit` (paged: in one page), else by cp.async
  /// (PrefillProducer.cpp).
  void produceTile(Value tile, Value start, Value limit, Value stage,
                   Barrier kind, ArrayRef<KvTileOp> loads, Value batch,
                   Value kvHead, int64_t which);
  /// abi::tma's parameters when tma.
  Value kMap, vMap, tmaEnabled;
  /// Emitting the producer warpgroup's copy of the program (its K/V copies
  /// only).
  bool producerMode = false;
  /// The thread that issueTileCopies, findTile and storeLocation are
  /// emitted for, and the number of threads that share the copies: every
  /// thread, or the producer's.
  Value copyThread;
  int64_t copyThreads = 0;
  /// wgmma: the K/V loop's accumulator iter_arg (tiled IR) whose PV is
  /// deferred: tile j's P is stored after its softmax, and its PV issued
  /// after tile j + 1's QK (after the loop for the last tile), so that
  /// tile j + 1's softmax runs while the tensor cores do tile j's PV (the
  /// V copies lag the K copies by one tile). Null: PV right after softmax.
  BlockArgument deferredAcc;
  /// Its index among the loop's iter_args.
  unsigned deferredAccIndex = 0;

  // Problem facts read from the tiled IR.
  int64_t rows = 0, headDim = 0, blockN = 0, rowBlocks = 0;
  /// The head_dim of the Q, K and V tiles in shared memory: head_dim, or
  /// under wgmma whole 64-element swizzle panels (head_dim rounded up to a
  /// multiple of 64); the MMAs read the first head_dim elements of a row.
  int64_t tileDim = 0;
  Type elementType;
  Value qArg, kArg, vArg, cuQArg, cuKArg, tableArg, outArg, lseArg, partOutArg,
      partLseArg, splitsArg;
  scf::ParallelOp grid;

  // Emission state.
  Value warp, groupRow, quadLane, lane;
  Value smemBase, stagesBase, pageSize, totalQ, numKvHeads, numHeads, head,
      groupMagic, runtimeScale;
  /// The head_shift kernel parameter (the grid's x encoding, Grid.cpp).
  Value headShiftArg;
  /// The call's head_dim (the head_dim parameter, a multiple of 8 up to the
  /// kernel's), as an index, and its 16-byte chunks: Q's copies zero-fill the
  /// chunks past it, K's and V's read the call's last chunk there, and the
  /// store writes no column past it.
  Value callHeadDim, callChunks;
  /// Paged: floor((2^32 - 1) / page_size), once per CTA (locateKey).
  Value pageReciprocal;
  Value currentStage;
  /// Deferred PV: the previous tile's stage, whether there is a previous
  /// tile, and whether a PV is in flight (issued, not waited for).
  Value previousStage, hasPrevious, previousTile;
  /// Warp-specialised: the parity of the previous tile's use of its stage.
  Value previousParity;
  bool pvInFlight = false;
  /// The last attn.qk's scale times the launch's softmax_scale: what the
  /// consumers of deferred-scale scores (attn.deferred_scale) multiply by.
  Value scoreScale;
  static bool hasDeferredScale(Operation *op) {
    return op->hasAttr(AttnDialect::DeferredScaleAttrHelper::getNameStr());
  }
};

} // namespace attn
} // namespace mlir

#endif // ATTN_PASSES_GPU_PREFILLKERNEL_H
