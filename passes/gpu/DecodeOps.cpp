// The decode kernel's lowering of each tile op: the dispatch, then one
// function per op.
#include "passes/gpu/DecodeKernel.h"

using namespace mlir;
using namespace mlir::attn;

LogicalResult DecodeKernelEmitter::emitOp(Operation *op) {
  if (auto c = dyn_cast<arith::ConstantOp>(op)) {
    if (auto dense = dyn_cast<DenseElementsAttr>(c.getValue())) {
      auto type = cast<RankedTensorType>(c.getType());
      int64_t count = type.getRank() == 1 ? rowTileValues() : accValues();
      Value v = f32(dense.getSplatValue<APFloat>().convertToFloat());
      bind(c, Fragment{SmallVector<Value>(count, v)});
      return success();
    }
    b.clone(*op, mapping);
    return success();
  }
  if (isElementwise(op)) {
    bind(op->getResult(0), emitElementwise(op));
    return success();
  }
  if (isa<arith::ArithDialect>(op->getDialect())) {
    b.clone(*op, mapping);
    return success();
  }
  if (auto seqLen = dyn_cast<SeqLenOp>(op)) {
    Value ptr =
        gep(tensorFor(lensArg).ptr, b.getI32Type(), mapped(seqLen.getBatch()));
    Value len = LLVM::LoadOp::create(b, loc, b.getI32Type(), ptr);
    mapping.map(seqLen.getResult(), toIndex(len));
    return success();
  }
  if (auto size = dyn_cast<GroupSizeOp>(op)) {
    mapping.map(size.getSize(),
                arith::DivUIOp::create(b, loc, numHeads, numKvHeads));
    return success();
  }
  if (auto loadQ = dyn_cast<LoadQOp>(op))
    return lowerLoadQ(loadQ);
  if (auto loop = dyn_cast<scf::ForOp>(op)) {
    if (!loop->hasAttr(AttnDialect::KvLoopAttrHelper::getNameStr()))
      return loop.emitError("attn-lower-to-gpu: unexpected scf.for");
    return emitKvLoop(loop);
  }
  if (auto ifOp = dyn_cast<scf::IfOp>(op)) {
    // Results are fragments (the masked scores) or nothing (the stores).
    return emitIf(ifOp,
                  SmallVector<unsigned>(ifOp.getNumResults(), scoreValues()));
  }
  if (std::optional<LogicalResult> lowered = emitTileOp(op))
    return *lowered;
  if (auto store = dyn_cast<StoreOp>(op))
    return lowerStore(store);
  return op->emitError("attn-lower-to-gpu: unsupported op");
}

LogicalResult DecodeKernelEmitter::lowerLoadQ(LoadQOp loadQ) {
  Tensor &q = tensorFor(qArg);
  Fragment frag;
  // With a count, rows past it repeat row count - 1 (never stored).
  Value lastRow =
      loadQ.getCount() ? sub(mapped(loadQ.getCount()), idx(1)) : Value();
  for (int64_t r = 0; r < rows; ++r) {
    Value row = idx(r);
    if (lastRow && r > 0)
      row = arith::MinUIOp::create(b, loc, row, lastRow);
    auto [token, head] = conventions::tokenAndHead(
        b, loc, loadQ.getRowsPerToken(), mapped(loadQ.getToken()),
        mapped(loadQ.getHead()), row);
    Value rowOffset = elementOffset(q, {mapped(loadQ.getBatch()), token, head});
    for (const LaneChunk &chunk : laneChunks)
      llvm::append_range(frag.values,
                         load8(gep(q.ptr, elementType,
                                   add(rowOffset, toI64(chunk.callOffset))),
                               elementType));
  }
  // Chunks past head_dim / 8 (the kernel's or the call's) add nothing to the
  // dot products.
  for (auto [c, chunk] : llvm::enumerate(laneChunks)) {
    Value live = chunk.active
                     ? arith::AndIOp::create(b, loc, chunk.active, chunk.inCall)
                     : chunk.inCall;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < 8; ++j) {
        Value &v =
            frag.values[r * rowValues() + static_cast<int64_t>(c) * 8 + j];
        v = select(live, v, f32(0.0));
      }
  }
  bind(loadQ, frag);
  return success();
}

LogicalResult DecodeKernelEmitter::lowerQK(QKOp qk) {
  if (qk->hasAttr(AttnDialect::DeferredScaleAttrHelper::getNameStr()))
    return qk.emitError("attn-lower-to-gpu: the decode kernel scales each "
                        "score as it computes it; attn.deferred_scale is for "
                        "prefill programs");
  Fragment q = lookup(qk.getQ());
  Fragment scores;
  scores.values.resize(rows * keysPerThread);
  // The op's scale (log2(e) folded in) times the launch's softmax_scale.
  Value scale = arith::MulFOp::create(
      b, loc, f32(qk.getScale().convertToFloat()), runtimeScale);
  Value kStage = stageTile(currentStage, 0);
  for (int64_t i = 0; i < keysPerThread; ++i) {
    SmallVector<Value> k =
        loadStageRow(kStage, add(rowGroup, idx(rowGroups * i)));
    for (int64_t r = 0; r < rows; ++r) {
      ArrayRef<Value> qRow =
          ArrayRef<Value>(q.values).slice(r * rowValues(), rowValues());
      Value dot = arith::MulFOp::create(b, loc, qRow[0], k[0]);
      for (int64_t j = 1; j < rowValues(); ++j)
        dot = math::FmaOp::create(b, loc, qRow[j], k[j], dot);
      // Butterfly over the threads of the row: every lane gets the sum.
      for (int64_t off = threadsPerRow / 2; off > 0; off /= 2)
        dot = arith::AddFOp::create(b, loc, dot, shflXor(dot, off));
      scores.values[r * keysPerThread + i] =
          arith::MulFOp::create(b, loc, dot, scale);
    }
  }
  bind(qk, scores);
  return success();
}

LogicalResult DecodeKernelEmitter::lowerMask(MaskOp mask) {
  Fragment in = lookup(mask.getScores()), out;
  Value start = mapped(mask.getStart()), end = mapped(mask.getEnd());
  Value diagonal = mapped(mask.getDiagonal());
  Value negInf = f32(-std::numeric_limits<float>::infinity());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < keysPerThread; ++i) {
      Value key = add(start, add(rowGroup, idx(rowGroups * i)));
      Value keep =
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, key, end);
      // The row's diagonal, once for the causal bound and the window.
      Value last;
      if (mask.getCausal()) {
        last = add(diagonal, idx(r / mask.getRowsPerToken()));
        keep = arith::AndIOp::create(
            b, loc, keep,
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sle, key,
                                  last));
      }
      if (!mask.getWindow().empty())
        keep = arith::AndIOp::create(
            b, loc, keep,
            insideWindow(
                key,
                last ? last : add(diagonal, idx(r / mask.getRowsPerToken())),
                mapped(mask.getWindow()[0]), mapped(mask.getWindow()[1])));
      out.values.push_back(
          select(keep, in.values[r * keysPerThread + i], negInf));
    }
  bind(mask, out);
  return success();
}

LogicalResult DecodeKernelEmitter::lowerRowMax(RowMaxOp rowMax) {
  Fragment in = lookup(rowMax.getTile()), out;
  for (int64_t r = 0; r < rows; ++r) {
    Value m = in.values[r * keysPerThread];
    for (int64_t i = 1; i < keysPerThread; ++i)
      m = arith::MaximumFOp::create(b, loc, m,
                                    in.values[r * keysPerThread + i]);
    out.values.push_back(m);
  }
  bind(rowMax, out);
  return success();
}

LogicalResult DecodeKernelEmitter::lowerRowSum(RowSumOp rowSum) {
  Fragment in = lookup(rowSum.getTile()), out;
  for (int64_t r = 0; r < rows; ++r) {
    Value s = in.values[r * keysPerThread];
    for (int64_t i = 1; i < keysPerThread; ++i)
      s = arith::AddFOp::create(b, loc, s, in.values[r * keysPerThread + i]);
    out.values.push_back(s);
  }
  bind(rowSum, out);
  return success();
}

LogicalResult DecodeKernelEmitter::lowerExp2Diff(Exp2DiffOp diff) {
  Fragment x = lookup(diff.getX()), m = lookup(diff.getM()), out;
  int64_t perRow = x.values.size() / rows;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < perRow; ++i) {
      Value e = exp2(
          arith::SubFOp::create(b, loc, x.values[r * perRow + i], m.values[r]));
      out.values.push_back(select(isNegInf(m.values[r]), f32(0.0), e));
    }
  bind(diff, out);
  return success();
}

LogicalResult DecodeKernelEmitter::lowerPV(PVOp pv) {
  Fragment p = lookup(pv.getP()), out;
  out.values.assign(rows * rowValues(), f32(0.0));
  Value vStage = stageTile(currentStage, 1);
  for (int64_t i = 0; i < keysPerThread; ++i) {
    SmallVector<Value> v =
        loadStageRow(vStage, add(rowGroup, idx(rowGroups * i)));
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < rowValues(); ++j)
        out.values[r * rowValues() + j] =
            math::FmaOp::create(b, loc, p.values[r * keysPerThread + i], v[j],
                                out.values[r * rowValues() + j]);
  }
  bind(pv, out);
  return success();
}

LogicalResult DecodeKernelEmitter::lowerScaleRows(ScaleRowsOp scale) {
  Fragment t = lookup(scale.getTile()), f = lookup(scale.getFactor()), out;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < rowValues(); ++j)
      out.values.push_back(arith::MulFOp::create(
          b, loc, t.values[r * rowValues() + j], f.values[r]));
  bind(scale, out);
  return success();
}

LogicalResult DecodeKernelEmitter::lowerNormalize(NormalizeOp normalize) {
  // Merge the row groups' (m, l, acc) through shared memory: every thread
  // writes its state, then thread (g, lane) merges rows g, g + NG, ...
  Fragment acc = lookup(normalize.getAcc()), m = lookup(normalize.getMax());
  Fragment l = lookup(normalize.getSum());
  NVVM::CpAsyncWaitGroupOp::create(b, loc, 0);
  gpu::BarrierOp::create(b, loc);
  Type f32Type = b.getF32Type();
  // Layout: acc [NG][rows][H x D] then m [NG][rows][H], l [NG][rows][H], all
  // f32 (H KV heads a CTA, a state per lane group).
  int64_t accRow = kvHeads * headDim;
  Value accBase = smemBase;
  Value mBase = gep(smemBase, f32Type, idx(rowGroups * rows * accRow));
  Value lBase = gep(mBase, f32Type, idx(rowGroups * rows * kvHeads));
  auto stateIndex = [&](Value slot) {
    return headLane ? add(mul(slot, idx(kvHeads)), headLane) : slot;
  };
  for (int64_t r = 0; r < rows; ++r) {
    Value slot = add(mul(rowGroup, idx(rows)), idx(r));
    for (auto [c, chunk] : llvm::enumerate(laneChunks)) {
      Value accOffset = add(mul(slot, idx(accRow)), mul(chunk.slot, idx(8)));
      // A lane's chunk past head_dim / 8 holds a copy of the last chunk's
      // values: it writes nothing (two writers of one address race).
      OpBuilder::InsertionGuard guard(b);
      if (chunk.active) {
        auto ifLane = scf::IfOp::create(b, loc, chunk.active);
        b.setInsertionPoint(ifLane.thenBlock()->getTerminator());
      }
      store8(gep(accBase, f32Type, accOffset), f32Type,
             ArrayRef<Value>(acc.values)
                 .slice(r * rowValues() + static_cast<int64_t>(c) * 8, 8));
    }
    LLVM::StoreOp::create(b, loc, m.values[r],
                          gep(mBase, f32Type, stateIndex(slot)));
    LLVM::StoreOp::create(b, loc, l.values[r],
                          gep(lBase, f32Type, stateIndex(slot)));
  }
  gpu::BarrierOp::create(b, loc);
  Fragment out, lse;
  int64_t rowsPerGroup = (rows + rowGroups - 1) / rowGroups;
  for (int64_t j = 0; j < rowsPerGroup; ++j) {
    // Row rowGroup + NG * j; rows past the end read row 0 and are never
    // stored.
    Value row = add(rowGroup, idx(rowGroups * j));
    Value inRange = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                          row, idx(rows));
    row = select(inRange, row, idx(0));
    // The row groups' states, in turn: unrolled, or (a lane of several
    // chunks: 16 or 32 row groups) an scf.for whose body holds one group's
    // loads, not every group's.
    auto [merged, rowLseValue] = mergeStates(
        rowGroups, row, chunks != 1,
        [&](Value slot) {
          return LLVM::LoadOp::create(b, loc, f32Type,
                                      gep(mBase, f32Type, stateIndex(slot)));
        },
        [&](Value slot) {
          return LLVM::LoadOp::create(b, loc, f32Type,
                                      gep(lBase, f32Type, stateIndex(slot)));
        },
        [&](Value slot, int64_t c) {
          Value accOffset =
              add(mul(slot, idx(accRow)), mul(laneChunks[c].slot, idx(8)));
          return load8(gep(accBase, f32Type, accOffset), f32Type);
        },
        chunks);
    llvm::append_range(out.values, merged);
    lse.values.push_back(rowLseValue);
  }
  bind(normalize.getOut(), out);
  bind(normalize.getLse(), lse);
  return success();
}

SmallVector<Value> DecodeKernelEmitter::overStates(
    int64_t count, Value row, bool loop, SmallVector<Value> init,
    function_ref<SmallVector<Value>(Value, ValueRange)> body) {
  if (!loop) {
    for (int64_t g = 0; g < count; ++g)
      init = body(add(idx(g * rows), row), init);
    return init;
  }
  auto forOp = scf::ForOp::create(b, loc, idx(0), idx(count), idx(1), init);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(forOp.getBody());
  Value slot = add(mul(forOp.getInductionVar(), idx(rows)), row);
  SmallVector<Value> next = body(slot, forOp.getRegionIterArgs());
  if (forOp.getBody()->mightHaveTerminator())
    forOp.getBody()->getTerminator()->erase();
  b.setInsertionPointToEnd(forOp.getBody());
  scf::YieldOp::create(b, loc, next);
  return SmallVector<Value>(forOp.getResults());
}

std::pair<SmallVector<Value>, Value> DecodeKernelEmitter::mergeStates(
    int64_t count, Value row, bool loop, function_ref<Value(Value)> m,
    function_ref<Value(Value)> l,
    function_ref<SmallVector<Value>(Value, int64_t)> acc, int64_t chunkCount) {
  Value maxAll =
      overStates(
          count, row, loop, {f32(-std::numeric_limits<float>::infinity())},
          [&](Value slot, ValueRange state) -> SmallVector<Value> {
            return {arith::MaximumFOp::create(b, loc, state[0], m(slot))};
          })
          .front();
  // (sum, merged columns...)
  SmallVector<Value> init(1 + 8 * chunkCount, f32(0.0));
  SmallVector<Value> state =
      overStates(count, row, loop, init,
                 [&](Value slot, ValueRange in) -> SmallVector<Value> {
                   SmallVector<Value> next(in);
                   Value mg = m(slot);
                   Value lg = l(slot);
                   Value w =
                       select(isNegInf(mg), f32(0.0),
                              exp2(arith::SubFOp::create(b, loc, mg, maxAll)));
                   next[0] = math::FmaOp::create(b, loc, w, lg, next[0]);
                   for (int64_t c = 0; c < chunkCount; ++c) {
                     SmallVector<Value> a = acc(slot, c);
                     for (int64_t d = 0; d < 8; ++d) {
                       Value &into = next[1 + c * 8 + d];
                       into = math::FmaOp::create(b, loc, w, a[d], into);
                     }
                   }
                   return next;
                 });
  Value sum = state[0];
  auto [rowLseValue, empty] = rowLse(maxAll, sum);
  Value inv = arith::DivFOp::create(b, loc, f32(1.0), sum);
  SmallVector<Value> out;
  for (Value v : ArrayRef<Value>(state).drop_front())
    out.push_back(
        select(empty, f32(0.0), arith::MulFOp::create(b, loc, v, inv)));
  return {out, rowLseValue};
}

LogicalResult DecodeKernelEmitter::lowerStore(StoreOp store) {
  Fragment o = lookup(store.getTile()), lse = lookup(store.getLseTile());
  int64_t rowsPerGroup = (rows + rowGroups - 1) / rowGroups;
  Value bIdx = mapped(store.getBatch()), token0 = mapped(store.getToken());
  Value head0 = mapped(store.getHead());
  Value count = store.getCount() ? mapped(store.getCount()) : idx(rows);
  for (int64_t j = 0; j < rowsPerGroup; ++j) {
    Value row = add(rowGroup, idx(rowGroups * j));
    Value inRange =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, row, count);
    // A chunk is stored where it is the lane's own and, for out (the
    // partials keep the kernel's head_dim, zeros past the call's), within
    // the call's head_dim. Chunk 0's conditions guard the row: past chunk 0
    // every chunk of the lane is past them too, and lane 0 (the lse's
    // writer) passes them.
    auto chunkStored = [&](const LaneChunk &chunk) {
      Value stored = chunk.active;
      if (!store.getSplit())
        stored = stored ? arith::AndIOp::create(b, loc, stored, chunk.inCall)
                        : chunk.inCall;
      return stored;
    };
    if (Value first = chunkStored(laneChunks.front()))
      inRange = arith::AndIOp::create(b, loc, inRange, first);
    if (headStored)
      inRange = arith::AndIOp::create(b, loc, inRange, headStored);
    auto ifRow = scf::IfOp::create(b, loc, inRange);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(ifRow.thenBlock()->getTerminator());
    auto [token, head] = conventions::tokenAndHead(
        b, loc, store.getRowsPerToken(), token0, head0, row);
    // Stores chunk c's values at element offset `rowOffset` + its column of
    // `ptr`, under its own conditions past chunk 0.
    auto storeChunks = [&](Value ptr, Type elt, Value rowOffset) {
      for (auto [c, chunk] : llvm::enumerate(laneChunks)) {
        OpBuilder::InsertionGuard chunkGuard(b);
        if (c > 0)
          if (Value stored = chunkStored(chunk)) {
            auto ifChunk = scf::IfOp::create(b, loc, stored);
            b.setInsertionPoint(ifChunk.thenBlock()->getTerminator());
          }
        Value offset = add(rowOffset, toI64(mul(chunk.index, idx(8))));
        store8(gep(ptr, elt, offset), elt,
               ArrayRef<Value>(o.values).slice(
                   j * rowValues() + static_cast<int64_t>(c) * 8, 8));
      }
    };
    Value isLane0 =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, lane, idx(0));
    if (!store.getSplit()) {
      Tensor &out = tensorFor(outArg);
      storeChunks(out.ptr, elementType,
                  elementOffset(out, {bIdx, token, head}));
      if (lseArg) {
        // lse [B, Hq, Lq], the caller's: +inf for a row without keys.
        Value lsePtr = tensorFor(lseArg).ptr;
        Value nonNull = LLVM::ICmpOp::create(
            b, loc, LLVM::ICmpPredicate::ne, lsePtr,
            LLVM::ZeroOp::create(b, loc, lsePtr.getType()));
        Value write = arith::AndIOp::create(b, loc, isLane0, nonNull);
        auto ifLse = scf::IfOp::create(b, loc, write);
        b.setInsertionPoint(ifLse.thenBlock()->getTerminator());
        Value index = add(mul(add(mul(bIdx, numHeads), head), seqlenQ), token);
        Value value = conventions::callerLse(b, loc, lse.values[j]);
        LLVM::StoreOp::create(b, loc, value,
                              gep(lsePtr, b.getF32Type(), index));
      }
      continue;
    }
    // Partial: [S, B, Lq, Hq, D] and [S, B, Lq, Hq].
    Value split = mapped(store.getSplit());
    Value rowIndex =
        add(mul(add(mul(add(mul(split, batchCount), bIdx), seqlenQ), token),
                numHeads),
            head);
    storeChunks(tensorFor(partOutArg).ptr, b.getF32Type(),
                toI64(mul(rowIndex, idx(headDim))));
    auto ifLse = scf::IfOp::create(b, loc, isLane0);
    b.setInsertionPoint(ifLse.thenBlock()->getTerminator());
    LLVM::StoreOp::create(
        b, loc, lse.values[j],
        gep(tensorFor(partLseArg).ptr, b.getF32Type(), rowIndex));
  }
  return success();
}

SmallVector<Value> DecodeKernelEmitter::loadStageRow(Value stage, Value key) {
  SmallVector<Value> values;
  for (auto [c, chunk] : llvm::enumerate(laneChunks))
    llvm::append_range(values,
                       loadStage8(gep(stage, elementType,
                                      stageSlot(key, static_cast<int64_t>(c))),
                                  chunk.active));
  return values;
}

Value DecodeKernelEmitter::stageSlot(Value key, int64_t c) {
  if (chunks == 1)
    return add(mul(key, idx(stageRowElements())),
               mul(laneChunks[c].slot, idx(8)));
  // Slot-major: [C][block_n][H x TPR] chunks of 8 elements.
  return mul(add(mul(add(key, idx(c * blockN)), idx(threadsPerRow * kvHeads)),
                 rowLane),
             idx(8));
}

SmallVector<Value> DecodeKernelEmitter::loadStage8(Value ptr, Value active) {
  if (!active)
    return load8(ptr, elementType);
  // A lane's chunk past head_dim / 8 copied nothing into the stage, so
  // nothing orders its reads after the copies it would read (another lane's
  // cp.async): it reads nothing and takes zeros.
  SmallVector<Type> types(8, b.getF32Type());
  auto ifLane = scf::IfOp::create(b, loc, types, active,
                                  /*withElseRegion=*/true);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifLane.thenBlock());
    scf::YieldOp::create(b, loc, load8(ptr, elementType));
    b.setInsertionPointToStart(ifLane.elseBlock());
    scf::YieldOp::create(b, loc, SmallVector<Value>(8, f32(0.0)));
  }
  return SmallVector<Value>(ifLane.getResults());
}
