// attn-lower-to-cpu: the tiled attn program as scalar loops over stack
// buffers, so that the host can run it and CI can check every pass's numerics.
#include "dialect/AttnOps.h"
#include "passes/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"

#include <limits>

namespace mlir {
namespace attn {
#define GEN_PASS_DEF_ATTNLOWERTOCPU
#include "passes/Passes.h.inc"
} // namespace attn
} // namespace mlir

using namespace mlir;
using namespace mlir::attn;

namespace {

constexpr double kLn2 = 0.6931471805599453;

class CpuEmitter {
public:
  CpuEmitter(func::FuncOp func) : func(func), b(func.getContext()) {}

  LogicalResult run();

private:
  LogicalResult emitBlock(Block &block);
  LogicalResult emitOp(Operation *op);

  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value f32(double v) {
    return arith::ConstantFloatOp::create(b, loc, b.getF32Type(),
                                          APFloat(static_cast<float>(v)));
  }
  Value mapped(Value v) { return mapping.lookupOrDefault(v); }
  Value buffer(Value tensor) { return buffers.lookup(tensor); }
  /// A stack buffer for a tile, allocated once at the function entry.
  Value allocate(Type type) {
    auto tensor = cast<RankedTensorType>(type);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(entry);
    return memref::AllocaOp::create(
        b, loc, MemRefType::get(tensor.getShape(), tensor.getElementType()));
  }
  Value load(Value memref, ValueRange indices) {
    return memref::LoadOp::create(b, loc, memref, indices);
  }
  void store(Value value, Value memref, ValueRange indices) {
    memref::StoreOp::create(b, loc, value, memref, indices);
  }
  Value toF32(Value v) {
    return v.getType().isF32() ? v
                               : arith::ExtFOp::create(b, loc, b.getF32Type(),
                                                       v);
  }
  /// Emits `body(ivs)` inside loops over `shape`.
  void loops(ArrayRef<int64_t> shape,
             function_ref<void(ValueRange)> body) {
    SmallVector<Value> ubs;
    for (int64_t d : shape)
      ubs.push_back(idx(d));
    loopsTo(ubs, body);
  }
  void loopsTo(ArrayRef<Value> ubs, function_ref<void(ValueRange)> body) {
    SmallVector<Value> ivs;
    std::function<void(unsigned)> nest = [&](unsigned d) {
      if (d == ubs.size()) {
        body(ivs);
        return;
      }
      auto loop = scf::ForOp::create(b, loc, idx(0), ubs[d], idx(1));
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(loop.getBody()->getTerminator());
      ivs.push_back(loop.getInductionVar());
      nest(d + 1);
      ivs.pop_back();
    };
    nest(0);
  }
  void copy(Value from, Value to) {
    memref::CopyOp::create(b, loc, from, to);
  }
  /// Reduces a [M, N] buffer along N into a fresh [M] buffer.
  Value reduceRows(Value tile, Type resultType, double init,
                   function_ref<Value(Value, Value)> combine);

  func::FuncOp func;
  OpBuilder b;
  Location loc = UnknownLoc();
  Block *entry = nullptr;
  IRMapping mapping;
  llvm::DenseMap<Value, Value> buffers;
};

Value CpuEmitter::reduceRows(Value tile, Type resultType, double init,
                             function_ref<Value(Value, Value)> combine) {
  Value out = allocate(resultType);
  auto shape = cast<MemRefType>(tile.getType()).getShape();
  loops({shape[0]}, [&](ValueRange r) {
    auto loop = scf::ForOp::create(b, loc, idx(0), idx(shape[1]), idx(1),
                                   ValueRange{f32(init)});
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value x = load(tile, {r[0], loop.getInductionVar()});
    scf::YieldOp::create(b, loc,
                         combine(loop.getRegionIterArgs()[0], x));
    b.setInsertionPointAfter(loop);
    store(loop.getResult(0), out, {r[0]});
  });
  return out;
}

LogicalResult CpuEmitter::run() {
  loc = func.getLoc();
  Block &old = func.getBody().front();
  entry = new Block();
  func.getBody().push_front(entry);
  for (BlockArgument arg : old.getArguments())
    mapping.map(arg, entry->addArgument(arg.getType(), arg.getLoc()));
  b.setInsertionPointToEnd(entry);
  if (failed(emitBlock(old)))
    return failure();
  func::ReturnOp::create(b, loc);
  old.erase();
  return success();
}

LogicalResult CpuEmitter::emitBlock(Block &block) {
  for (Operation &op : block.without_terminator())
    if (failed(emitOp(&op)))
      return failure();
  return success();
}

LogicalResult CpuEmitter::emitOp(Operation *op) {
  Type f32t = b.getF32Type();
  auto isTensor = [](Value v) { return isa<RankedTensorType>(v.getType()); };
  if (auto c = dyn_cast<arith::ConstantOp>(op); c && isTensor(c)) {
    Value buf = allocate(c.getType());
    float value = cast<DenseElementsAttr>(c.getValue())
                      .getSplatValue<APFloat>()
                      .convertToFloat();
    Value v = f32(value);
    loops(cast<RankedTensorType>(c.getType()).getShape(),
          [&](ValueRange ivs) { store(v, buf, ivs); });
    buffers[c] = buf;
    return success();
  }
  if (isa<arith::MaximumFOp, arith::AddFOp, arith::MulFOp>(op) &&
      isTensor(op->getResult(0))) {
    Value lhs = buffer(op->getOperand(0)), rhs = buffer(op->getOperand(1));
    Value out = allocate(op->getResult(0).getType());
    loops(cast<RankedTensorType>(op->getResult(0).getType()).getShape(),
          [&](ValueRange ivs) {
            Value x = load(lhs, ivs), y = load(rhs, ivs), r;
            if (isa<arith::MaximumFOp>(op))
              r = arith::MaximumFOp::create(b, loc, x, y);
            else if (isa<arith::AddFOp>(op))
              r = arith::AddFOp::create(b, loc, x, y);
            else
              r = arith::MulFOp::create(b, loc, x, y);
            store(r, out, ivs);
          });
    buffers[op->getResult(0)] = out;
    return success();
  }
  if (auto seqLen = dyn_cast<SeqLenOp>(op)) {
    Value bIdx = mapped(seqLen.getBatch());
    Value len = load(mapped(seqLen.getLengths()), {bIdx});
    if (seqLen.getCumulative())
      len = arith::SubIOp::create(
          b, loc, load(mapped(seqLen.getLengths()),
                       {arith::AddIOp::create(b, loc, bIdx, idx(1))}),
          len);
    mapping.map(seqLen.getResult(),
                arith::IndexCastOp::create(b, loc, b.getIndexType(), len));
    return success();
  }
  if (auto loadQ = dyn_cast<LoadQOp>(op)) {
    Value out = allocate(loadQ.getType());
    Value q = mapped(loadQ.getQ());
    loops(loadQ.getType().getShape(), [&](ValueRange ivs) {
      // With a count, rows past it repeat row count - 1.
      Value row = ivs[0];
      if (loadQ.getCount())
        row = arith::MinUIOp::create(
            b, loc, row,
            arith::SubIOp::create(b, loc, mapped(loadQ.getCount()), idx(1)));
      Value head = arith::AddIOp::create(b, loc, mapped(loadQ.getHead()), row);
      store(toF32(load(q, {mapped(loadQ.getBatch()), mapped(loadQ.getToken()),
                           head, ivs[1]})),
            out, ivs);
    });
    buffers[loadQ] = out;
    return success();
  }
  if (auto size = dyn_cast<GroupSizeOp>(op)) {
    mapping.map(size.getSize(), idx(size.getGroup()));
    return success();
  }
  if (auto kvHead = dyn_cast<KvHeadOp>(op)) {
    mapping.map(kvHead.getKvHead(),
                arith::DivUIOp::create(b, loc, mapped(kvHead.getHead()),
                                       idx(kvHead.getGroup())));
    return success();
  }
  if (auto start = dyn_cast<SeqStartOp>(op)) {
    Value row = load(mapped(start.getCuSeqlens()), {mapped(start.getBatch())});
    mapping.map(start.getRow(),
                arith::IndexCastOp::create(b, loc, b.getIndexType(), row));
    return success();
  }
  if (auto loadQ = dyn_cast<LoadQRowsOp>(op)) {
    Value out = allocate(loadQ.getType());
    Value q = mapped(loadQ.getQ());
    auto shape = loadQ.getType().getShape();
    loops({shape[0]}, [&](ValueRange r) {
      Value valid = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt,
                                          r[0], mapped(loadQ.getCount()));
      auto ifOp = scf::IfOp::create(b, loc, valid, /*withElseRegion=*/true);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
      Value row = arith::AddIOp::create(b, loc, mapped(loadQ.getRow()), r[0]);
      loops({shape[1]}, [&](ValueRange d) {
        store(toF32(load(q, {row, mapped(loadQ.getHead()), d[0]})), out,
              {r[0], d[0]});
      });
      b.setInsertionPoint(ifOp.elseBlock()->getTerminator());
      loops({shape[1]}, [&](ValueRange d) { store(f32(0.0), out, {r[0], d[0]}); });
    });
    buffers[loadQ] = out;
    return success();
  }
  if (auto range = dyn_cast<SplitRangeOp>(op)) {
    auto [begin, end] = SplitRangeOp::expand(
        b, loc, mapped(range.getLength()), mapped(range.getSplit()),
        mapped(range.getNumSplits()), range.getAlign());
    mapping.map(range.getBegin(), begin);
    mapping.map(range.getEnd(), end);
    return success();
  }
  if (auto tile = dyn_cast<KvTileOp>(op)) {
    auto type = cast<RankedTensorType>(tile.getType());
    Value out = allocate(type);
    Value cache = mapped(tile.getCache());
    Value zero = arith::ConstantOp::create(
        b, loc, type.getElementType(),
        b.getFloatAttr(type.getElementType(), 0.0));
    loops({type.getDimSize(0)}, [&](ValueRange n) {
      Value pos = arith::AddIOp::create(b, loc, mapped(tile.getStart()), n[0]);
      Value valid = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt,
                                          pos, mapped(tile.getLimit()));
      auto ifOp = scf::IfOp::create(b, loc, valid, /*withElseRegion=*/true);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
      Value block = mapped(tile.getBatch()), row = pos;
      SmallVector<Value> at;
      if (cast<MemRefType>(cache.getType()).getRank() == 3) {
        at = {pos}; // packed: positions are rows
      } else if (tile.getPageSize() != 0) {
        Value page = memref::DimOp::create(b, loc, cache, 1);
        Value entryIdx = arith::DivUIOp::create(b, loc, pos, page);
        Value id = load(mapped(tile.getBlockTable()), {block, entryIdx});
        block = arith::IndexCastOp::create(b, loc, b.getIndexType(), id);
        row = arith::RemUIOp::create(b, loc, pos, page);
      }
      if (at.empty())
        at = {block, row};
      at.push_back(mapped(tile.getKvHead()));
      loops({type.getDimSize(1)}, [&](ValueRange d) {
        SmallVector<Value> indices(at);
        indices.push_back(d[0]);
        store(load(cache, indices), out, {n[0], d[0]});
      });
      b.setInsertionPoint(ifOp.elseBlock()->getTerminator());
      loops({type.getDimSize(1)},
            [&](ValueRange d) { store(zero, out, {n[0], d[0]}); });
    });
    buffers[tile] = out;
    return success();
  }
  if (auto qk = dyn_cast<QKOp>(op)) {
    Value q = buffer(qk.getQ()), k = buffer(qk.getK());
    Value out = allocate(qk.getType());
    int64_t headDim = qk.getQ().getType().getDimSize(1);
    Value scale = f32(qk.getScale().convertToFloat());
    loops(qk.getType().getShape(), [&](ValueRange mn) {
      auto loop = scf::ForOp::create(b, loc, idx(0), idx(headDim), idx(1),
                                     ValueRange{f32(0.0)});
      {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(loop.getBody());
        Value d = loop.getInductionVar();
        Value prod = arith::MulFOp::create(b, loc, load(q, {mn[0], d}),
                                           toF32(load(k, {mn[1], d})));
        scf::YieldOp::create(
            b, loc,
            ValueRange{arith::AddFOp::create(
                b, loc, loop.getRegionIterArgs()[0], prod)});
      }
      store(arith::MulFOp::create(b, loc, loop.getResult(0), scale), out, mn);
    });
    buffers[qk] = out;
    return success();
  }
  if (auto mask = dyn_cast<MaskOp>(op)) {
    Value in = buffer(mask.getScores());
    Value out = allocate(mask.getType());
    Value negInf = f32(-std::numeric_limits<float>::infinity());
    loops(mask.getType().getShape(), [&](ValueRange mn) {
      Value key = arith::AddIOp::create(b, loc, mapped(mask.getStart()), mn[1]);
      Value keep = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt,
                                         key, mapped(mask.getEnd()));
      if (mask.getCausal()) {
        Value last = arith::AddIOp::create(
            b, loc, mapped(mask.getDiagonal()),
            arith::DivUIOp::create(b, loc, mn[0],
                                   idx(mask.getRowsPerToken())));
        keep = arith::AndIOp::create(
            b, loc, keep,
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sle, key,
                                  last));
      }
      store(arith::SelectOp::create(b, loc, keep, load(in, mn), negInf), out,
            mn);
    });
    buffers[mask] = out;
    return success();
  }
  if (auto rowMax = dyn_cast<RowMaxOp>(op)) {
    buffers[rowMax] = reduceRows(
        buffer(rowMax.getTile()), rowMax.getType(),
        -std::numeric_limits<float>::infinity(), [&](Value a, Value x) {
          return arith::MaximumFOp::create(b, loc, a, x).getResult();
        });
    return success();
  }
  if (auto rowSum = dyn_cast<RowSumOp>(op)) {
    buffers[rowSum] =
        reduceRows(buffer(rowSum.getTile()), rowSum.getType(), 0.0,
                   [&](Value a, Value x) {
                     return arith::AddFOp::create(b, loc, a, x).getResult();
                   });
    return success();
  }
  if (auto diff = dyn_cast<Exp2DiffOp>(op)) {
    Value x = buffer(diff.getX()), m = buffer(diff.getM());
    Value out = allocate(diff.getType());
    Value negInf = f32(-std::numeric_limits<float>::infinity());
    loops(diff.getType().getShape(), [&](ValueRange ivs) {
      Value mi = load(m, {ivs[0]});
      Value e = math::Exp2Op::create(
          b, loc, arith::SubFOp::create(b, loc, load(x, ivs), mi));
      Value none = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, mi,
                                         negInf);
      store(arith::SelectOp::create(b, loc, none, f32(0.0), e), out, ivs);
    });
    buffers[diff] = out;
    return success();
  }
  if (auto pv = dyn_cast<PVOp>(op)) {
    Value p = buffer(pv.getP()), v = buffer(pv.getV());
    Value out = allocate(pv.getType());
    int64_t keys = pv.getP().getType().getDimSize(1);
    loops(pv.getType().getShape(), [&](ValueRange md) {
      auto loop = scf::ForOp::create(b, loc, idx(0), idx(keys), idx(1),
                                     ValueRange{f32(0.0)});
      {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(loop.getBody());
        Value n = loop.getInductionVar();
        Value prod = arith::MulFOp::create(b, loc, load(p, {md[0], n}),
                                           toF32(load(v, {n, md[1]})));
        scf::YieldOp::create(
            b, loc,
            ValueRange{arith::AddFOp::create(
                b, loc, loop.getRegionIterArgs()[0], prod)});
      }
      store(loop.getResult(0), out, md);
    });
    buffers[pv] = out;
    return success();
  }
  if (auto scale = dyn_cast<ScaleRowsOp>(op)) {
    Value t = buffer(scale.getTile()), f = buffer(scale.getFactor());
    Value out = allocate(scale.getType());
    loops(scale.getType().getShape(), [&](ValueRange ivs) {
      store(arith::MulFOp::create(b, loc, load(t, ivs), load(f, {ivs[0]})),
            out, ivs);
    });
    buffers[scale] = out;
    return success();
  }
  if (auto normalize = dyn_cast<NormalizeOp>(op)) {
    Value acc = buffer(normalize.getAcc()), m = buffer(normalize.getMax());
    Value l = buffer(normalize.getSum());
    Value out = allocate(normalize.getOut().getType());
    Value lse = allocate(normalize.getLse().getType());
    Value negInf = f32(-std::numeric_limits<float>::infinity());
    loops(normalize.getOut().getType().getShape(), [&](ValueRange ivs) {
      Value li = load(l, {ivs[0]});
      Value empty = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLE,
                                          li, f32(0.0));
      Value o = arith::DivFOp::create(b, loc, load(acc, ivs), li);
      store(arith::SelectOp::create(b, loc, empty, f32(0.0), o), out, ivs);
      Value logSum = arith::MulFOp::create(
          b, loc,
          arith::AddFOp::create(b, loc, load(m, {ivs[0]}),
                                math::Log2Op::create(b, loc, li)),
          f32(kLn2));
      store(arith::SelectOp::create(b, loc, empty, negInf, logSum), lse,
            {ivs[0]});
    });
    buffers[normalize.getOut()] = out;
    buffers[normalize.getLse()] = lse;
    return success();
  }
  if (auto loop = dyn_cast<scf::ForOp>(op)) {
    // Loop-carried tiles live in buffers copied at the yield.
    SmallVector<Value> carried;
    for (Value init : loop.getInitArgs()) {
      Value buf = allocate(init.getType());
      copy(buffer(init), buf);
      carried.push_back(buf);
    }
    auto newLoop =
        scf::ForOp::create(b, loc, mapped(loop.getLowerBound()),
                           mapped(loop.getUpperBound()),
                           mapped(loop.getStep()));
    mapping.map(loop.getInductionVar(), newLoop.getInductionVar());
    for (auto [arg, buf] : llvm::zip(loop.getRegionIterArgs(), carried))
      buffers[arg] = buf;
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(newLoop.getBody()->getTerminator());
      if (failed(emitBlock(*loop.getBody())))
        return failure();
      for (auto [v, buf] :
           llvm::zip(loop.getBody()->getTerminator()->getOperands(), carried))
        copy(buffer(v), buf);
    }
    for (auto [result, buf] : llvm::zip(loop.getResults(), carried))
      buffers[result] = buf;
    return success();
  }
  if (auto ifOp = dyn_cast<scf::IfOp>(op)) {
    SmallVector<Value> results;
    for (Value r : ifOp.getResults())
      results.push_back(allocate(r.getType()));
    auto newIf = scf::IfOp::create(b, loc, mapped(ifOp.getCondition()),
                                   /*withElseRegion=*/ifOp.elseBlock());
    for (auto [from, to] : {std::pair{ifOp.thenBlock(), newIf.thenBlock()},
                            {ifOp.elseBlock(), newIf.elseBlock()}}) {
      if (!from)
        continue;
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(to->getTerminator());
      if (failed(emitBlock(*from)))
        return failure();
      for (auto [v, buf] :
           llvm::zip(from->getTerminator()->getOperands(), results))
        copy(buffer(v), buf);
    }
    for (auto [r, buf] : llvm::zip(ifOp.getResults(), results))
      buffers[r] = buf;
    return success();
  }
  if (auto grid = dyn_cast<scf::ParallelOp>(op)) {
    SmallVector<Value> lbs, ubs, steps;
    for (Value v : grid.getLowerBound())
      lbs.push_back(mapped(v));
    for (Value v : grid.getUpperBound())
      ubs.push_back(mapped(v));
    for (Value v : grid.getStep())
      steps.push_back(mapped(v));
    auto newGrid = scf::ParallelOp::create(b, loc, lbs, ubs, steps);
    for (auto [from, to] :
         llvm::zip(grid.getInductionVars(), newGrid.getInductionVars()))
      mapping.map(from, to);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(newGrid.getBody()->getTerminator());
    return emitBlock(*grid.getBody());
  }
  if (auto st = dyn_cast<StoreOp>(op)) {
    Value tile = buffer(st.getTile()), lseTile = buffer(st.getLseTile());
    Value out = mapped(st.getOut());
    Value bIdx = mapped(st.getBatch()), token = mapped(st.getToken());
    auto shape = st.getTile().getType().getShape();
    Value posInf = f32(std::numeric_limits<float>::infinity());
    Value negInf = f32(-std::numeric_limits<float>::infinity());
    loops({shape[0]}, [&](ValueRange r) {
      OpBuilder::InsertionGuard guard(b);
      if (st.getCount()) {
        auto ifRow = scf::IfOp::create(
            b, loc,
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, r[0],
                                  mapped(st.getCount())));
        b.setInsertionPoint(ifRow.thenBlock()->getTerminator());
      }
      Value head = arith::AddIOp::create(b, loc, mapped(st.getHead()), r[0]);
      SmallVector<Value> prefix;
      if (st.getSplit())
        prefix.push_back(mapped(st.getSplit()));
      prefix.append({bIdx, token, head});
      loops({shape[1]}, [&](ValueRange d) {
        Value v = load(tile, {r[0], d[0]});
        Type elt = cast<MemRefType>(out.getType()).getElementType();
        if (elt != f32t)
          v = arith::TruncFOp::create(b, loc, elt, v);
        SmallVector<Value> indices(prefix);
        indices.push_back(d[0]);
        store(v, out, indices);
      });
      if (!st.getLse())
        return;
      Value lse = load(lseTile, {r[0]});
      if (st.getSplit()) {
        store(lse, mapped(st.getLse()), prefix);
      } else {
        Value none = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ,
                                           lse, negInf);
        store(arith::SelectOp::create(b, loc, none, posInf, lse),
              mapped(st.getLse()), {bIdx, head, token});
      }
    });
    return success();
  }
  if (auto st = dyn_cast<StoreRowsOp>(op)) {
    Value tile = buffer(st.getTile()), lseTile = buffer(st.getLseTile());
    Value out = mapped(st.getOut());
    auto shape = st.getTile().getType().getShape();
    Type elt = cast<MemRefType>(out.getType()).getElementType();
    Value posInf = f32(std::numeric_limits<float>::infinity());
    Value negInf = f32(-std::numeric_limits<float>::infinity());
    Value head = mapped(st.getHead());
    loops({shape[0]}, [&](ValueRange r) {
      Value valid = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt,
                                          r[0], mapped(st.getCount()));
      auto ifOp = scf::IfOp::create(b, loc, valid);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
      Value row = arith::AddIOp::create(b, loc, mapped(st.getRow()), r[0]);
      // Partial: [S, total_q, Hq, D] and [S, total_q, Hq], lse as is.
      SmallVector<Value> prefix;
      if (st.getSplit())
        prefix.push_back(mapped(st.getSplit()));
      prefix.append({row, head});
      loops({shape[1]}, [&](ValueRange d) {
        Value v = load(tile, {r[0], d[0]});
        if (elt != f32t)
          v = arith::TruncFOp::create(b, loc, elt, v);
        SmallVector<Value> indices(prefix);
        indices.push_back(d[0]);
        store(v, out, indices);
      });
      if (!st.getLse())
        return;
      Value lse = load(lseTile, {r[0]});
      if (st.getSplit()) {
        store(lse, mapped(st.getLse()), prefix);
        return;
      }
      Value none = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ,
                                         lse, negInf);
      store(arith::SelectOp::create(b, loc, none, posInf, lse),
            mapped(st.getLse()), {head, row});
    });
    return success();
  }
  if (auto combine = dyn_cast<CombineOp>(op)) {
    Value po = mapped(combine.getPartialOut());
    Value pl = mapped(combine.getPartialLse());
    Value out = mapped(combine.getOut());
    Value splits = mapped(combine.getNumSplits());
    // out is [B, Lq, Hq, D] (decode) or [total_q, Hq, D] (prefill); the
    // partials put the split first, and lse is [B, Hq, Lq] or [Hq, total_q].
    auto poType = cast<MemRefType>(po.getType());
    int64_t outRank = cast<MemRefType>(out.getType()).getRank();
    SmallVector<Value> ubs;
    for (int64_t d = 0; d + 1 < outRank; ++d)
      ubs.push_back(memref::DimOp::create(b, loc, out, d));
    Value negInf = f32(-std::numeric_limits<float>::infinity());
    Value posInf = f32(std::numeric_limits<float>::infinity());
    int64_t headDim = poType.getShape().back();
    Type elt = cast<MemRefType>(out.getType()).getElementType();
    loopsTo(ubs, [&](ValueRange rowIdx) {
      auto at = [&](Value s) {
        SmallVector<Value> indices{s};
        llvm::append_range(indices, rowIdx);
        return indices;
      };
      auto maxLoop = scf::ForOp::create(b, loc, idx(0), splits, idx(1),
                                        ValueRange{negInf});
      {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(maxLoop.getBody());
        Value lse = load(pl, at(maxLoop.getInductionVar()));
        scf::YieldOp::create(b, loc,
                             ValueRange{arith::MaximumFOp::create(
                                 b, loc, maxLoop.getRegionIterArgs()[0], lse)});
      }
      Value mx = maxLoop.getResult(0);
      auto weight = [&](Value s) {
        Value lse = load(pl, at(s));
        Value w = math::ExpOp::create(b, loc,
                                      arith::SubFOp::create(b, loc, lse, mx));
        Value none = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ,
                                           lse, negInf);
        return arith::SelectOp::create(b, loc, none, f32(0.0), w).getResult();
      };
      auto sumLoop = scf::ForOp::create(b, loc, idx(0), splits, idx(1),
                                        ValueRange{f32(0.0)});
      {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(sumLoop.getBody());
        scf::YieldOp::create(
            b, loc,
            ValueRange{arith::AddFOp::create(
                b, loc, sumLoop.getRegionIterArgs()[0],
                weight(sumLoop.getInductionVar()))});
      }
      Value sum = sumLoop.getResult(0);
      Value empty = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLE,
                                          sum, f32(0.0));
      loops({headDim}, [&](ValueRange d) {
        auto accLoop = scf::ForOp::create(b, loc, idx(0), splits, idx(1),
                                          ValueRange{f32(0.0)});
        {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPointToStart(accLoop.getBody());
          Value s = accLoop.getInductionVar();
          SmallVector<Value> indices = at(s);
          indices.push_back(d[0]);
          Value o = load(po, indices);
          scf::YieldOp::create(
              b, loc,
              ValueRange{arith::AddFOp::create(
                  b, loc, accLoop.getRegionIterArgs()[0],
                  arith::MulFOp::create(b, loc, weight(s), o))});
        }
        Value v = arith::SelectOp::create(
            b, loc, empty, f32(0.0),
            arith::DivFOp::create(b, loc, accLoop.getResult(0), sum));
        if (elt != f32t)
          v = arith::TruncFOp::create(b, loc, elt, v);
        SmallVector<Value> indices(rowIdx);
        indices.push_back(d[0]);
        store(v, out, indices);
      });
      if (combine.getLse()) {
        Value lse = arith::AddFOp::create(b, loc, mx,
                                          math::LogOp::create(b, loc, sum));
        SmallVector<Value> indices(rowIdx);
        std::swap(indices[outRank - 2], indices[outRank - 3]);
        store(arith::SelectOp::create(b, loc, empty, posInf, lse),
              mapped(combine.getLse()), indices);
      }
    });
    return success();
  }
  if (isa<RankedTensorType>(op->getNumResults() ? op->getResult(0).getType()
                                                : Type()))
    return op->emitError("attn-lower-to-cpu: unsupported tile op");
  b.clone(*op, mapping);
  return success();
}

struct AttnLowerToCpuPass
    : public attn::impl::AttnLowerToCpuBase<AttnLowerToCpuPass> {
  void runOnOperation() override {
    SmallVector<func::FuncOp> funcs;
    getOperation().walk([&](func::FuncOp f) {
      bool hasAttn = false;
      f.walk([&](Operation *op) {
        hasAttn |= isa<AttnDialect>(op->getDialect());
      });
      if (hasAttn)
        funcs.push_back(f);
    });
    for (func::FuncOp func : funcs)
      if (failed(CpuEmitter(func).run()))
        return signalPassFailure();
  }
};

} // namespace
