"""A CPU emulator of the kernels attn-lower-to-gpu emits, for checking their numerics
on a machine without a GPU.

It reads the gpu.module that `attn-opt ... -attn-lower-to-gpu` prints in the generic
form (`--mlir-print-op-generic`), before NVVM and LLVM lowering, and runs one CTA at a
time: every thread of the CTA in lockstep, each SSA value a numpy array with one row
per thread, control flow as masks (scf.if runs both branches under their lanes'
masks, scf.for runs while any lane's induction variable is in range). Memory is two
flat byte arrays, global and shared, addressed by 64-bit integers.

What it models of the hardware, and how:
- mma.sync.m16n8k16 (f16/bf16 operands, f32 accumulators) and ldmatrix .x2/.x4 (.trans)
  by the fragment layouts of the PTX ISA: each warp's lane fragments are gathered into
  the A (16 x 16), B (16 x 8), C (16 x 8) matrices, multiplied in float64 and rounded
  to float32, and scattered back. Checked by running the prefill kernel, whose
  mma.sync code the GPU suites have run, through it (test/emu/test_kernel_emu.py).
- cp.async as a queue of commit groups: the copies of a group land at the
  cp.async.wait_group that retires it, so a read before its wait sees the old bytes.
- shfl.sync (bfly, idx) within each warp of 32; vote.sync any; atomicrmw add
  (lane by lane).
- ex2.approx, lg2.approx and tanh (softcap's llvm.intr.tanh) as exact float32
  functions.

What it does not model: timing, barriers (lockstep makes every barrier hold; a
missing one is not found), the memory model between warps (a read of another
warp's store sees it at once), bank conflicts, and register limits.
"""

import re

import numpy as np

# --------------------------------------------------------------------------------------
# The generic-form parser.


class Op:
    __slots__ = ("name", "results", "operands", "props", "attrs", "regions", "types")

    def __init__(self, name, results, operands, props, attrs, regions, types):
        self.name = name
        self.results = results  # [name, ...] (a name#i for each of N results)
        self.operands = operands  # [name, ...]
        self.props = props  # raw text inside <{ }>
        self.attrs = attrs  # raw text inside { }
        self.regions = regions  # [[Block, ...], ...]
        self.types = types  # (operand types, result types) as raw strings


class Block:
    __slots__ = ("args", "arg_types", "ops")

    def __init__(self):
        self.args, self.arg_types, self.ops = [], [], []


def _match(text, i):
    """The index just past the bracket that closes text[i] ('(', '[', '{' or '<'),
    skipping strings and the '>' of '->'."""
    closers = {"(": ")", "[": "]", "{": "}", "<": ">"}
    stack, j, in_str = [], i, False
    while j < len(text):
        c = text[j]
        if in_str:
            if c == "\\":
                j += 2
                continue
            if c == '"':
                in_str = False
        elif c == '"':
            in_str = True
        elif c in closers:
            stack.append(closers[c])
        elif c == ">" and text[j - 1] == "-":
            pass
        elif stack and c == stack[-1]:
            stack.pop()
            if not stack:
                return j + 1
        j += 1
    raise ValueError(f"unbalanced {text[i]!r} at {i}")


def _split_top(text, sep=","):
    """text split at top-level `sep`s (outside brackets and strings)."""
    parts, depth, start, in_str, i = [], 0, 0, False, 0
    while i < len(text):
        c = text[i]
        if in_str:
            if c == "\\":
                i += 2
                continue
            if c == '"':
                in_str = False
        elif c == '"':
            in_str = True
        elif c in "([{<":
            depth += 1
        elif c in ")]}>":
            if not (c == ">" and i > 0 and text[i - 1] == "-"):
                depth -= 1
        elif c == sep and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
        i += 1
    tail = text[start:].strip()
    if tail:
        parts.append(tail)
    return parts


class _Parser:
    def __init__(self, text):
        self.t = text
        self.i = 0

    def ws(self):
        while self.i < len(self.t) and self.t[self.i] in " \t\n\r":
            self.i += 1

    def peek(self, s):
        self.ws()
        return self.t.startswith(s, self.i)

    def expect(self, s):
        self.ws()
        if not self.t.startswith(s, self.i):
            ctx = self.t[self.i : self.i + 80]
            raise ValueError(f"expected {s!r} at {ctx!r}")
        self.i += len(s)

    def bracketed(self, open_ch):
        """The text inside the bracket at the cursor (`open_ch`), skipped."""
        self.ws()
        assert self.t[self.i] == open_ch, self.t[self.i : self.i + 40]
        end = _match(self.t, self.i)
        inner = self.t[self.i + 1 : end - 1]
        self.i = end
        return inner

    def op(self):
        self.ws()
        results = []
        if self.t[self.i] == "%":
            m = re.compile(
                r"((?:%[\w.$-]+(?::\d+)?)(?:\s*,\s*%[\w.$-]+(?::\d+)?)*)\s*="
            )
            mm = m.match(self.t, self.i)
            for r in mm.group(1).split(","):
                r = r.strip()
                if ":" in r:  # a pack %r:N: its values %r#0 .. %r#N-1
                    base, n = r.split(":")
                    results += [f"{base}#{k}" for k in range(int(n))]
                else:
                    results.append(r)
            self.i = mm.end()
        self.ws()
        m = re.compile(r'"([\w.]+)"').match(self.t, self.i)
        name = m.group(1)
        self.i = m.end()
        operands = [o for o in _split_top(self.bracketed("(")) if o]
        props = attrs = ""
        regions = []
        if self.peek("<{"):
            self.i += 1
            props = self.bracketed("{")
            self.expect(">")
        if self.peek("({"):
            self.i += 1
            while True:
                regions.append(self.region())
                if self.peek(","):
                    self.i += 1
                    continue
                self.expect(")")
                break
        if self.peek("{"):
            attrs = self.bracketed("{")
        self.expect(":")
        self.ws()
        # The function type: (operands) -> results, to the end of the line.
        end = self.t.find("\n", self.i)
        ftype = self.t[self.i : end if end >= 0 else len(self.t)].strip()
        self.i = end if end >= 0 else len(self.t)
        # Split at the top-level '->'.
        depth, k = 0, 0
        while k < len(ftype):
            c = ftype[k]
            if c == "-" and ftype[k + 1 : k + 2] == ">" and depth == 0:
                break
            if c in "([{<":
                depth += 1
            elif c in ")]}" or (c == ">" and ftype[k - 1] != "-"):
                depth -= 1
            k += 1
        ins = ftype[:k].strip()
        outs = ftype[k + 2 :].strip()
        in_types = _split_top(ins[1:-1]) if ins.startswith("(") else []
        if outs.startswith("(") and outs.endswith(")"):
            out_types = _split_top(outs[1:-1])
        else:
            out_types = [outs] if outs else []
        return Op(name, results, operands, props, attrs, regions, (in_types, out_types))

    def region(self):
        self.expect("{")
        blocks = []
        block = Block()
        while True:
            self.ws()
            if self.t[self.i] == "}":
                self.i += 1
                break
            if self.t[self.i] == "^":
                if block.ops or block.args:
                    blocks.append(block)
                    block = Block()
                m = re.compile(r"\^[\w]+").match(self.t, self.i)
                self.i = m.end()
                if self.peek("("):
                    for a in _split_top(self.bracketed("(")):
                        n, ty = a.split(":", 1)
                        block.args.append(n.strip())
                        block.arg_types.append(ty.strip())
                self.expect(":")
                continue
            block.ops.append(self.op())
        blocks.append(block)
        return blocks


def parse_module(text):
    """The top-level op of a generic-form module."""
    return _Parser(text).op()


def find_kernels(module):
    """name -> gpu.func op of every kernel in the module's gpu.module."""
    kernels = {}

    def walk(op):
        if op.name == "gpu.func":
            m = re.search(r'sym_name = "([\w]+)"', op.props + op.attrs)
            kernels[m.group(1)] = op
        for region in op.regions:
            for block in region:
                for o in block.ops:
                    walk(o)

    walk(module)
    return kernels


# --------------------------------------------------------------------------------------
# Types and values.


def _int_width(ty):
    if ty in ("index", "i64"):
        return 64
    m = re.fullmatch(r"i(\d+)", ty)
    return int(m.group(1)) if m else None


def _vector(ty):
    m = re.fullmatch(r"vector<(\d+)x(\w+)>", ty)
    return (int(m.group(1)), m.group(2)) if m else None


_SIZES = {"i1": 1, "i8": 1, "i16": 2, "i32": 4, "i64": 8, "index": 8}
_SIZES.update({"f16": 2, "bf16": 2, "f32": 4, "f64": 8})


def type_size(ty):
    if ty.startswith("!llvm.ptr"):
        return 8
    v = _vector(ty)
    if v:
        return v[0] * _SIZES[v[1]]
    return _SIZES[ty]


def _wrap(x, width):
    """Signed wrap of an int64 array to `width` bits."""
    if width >= 64:
        return x.astype(np.int64)
    if width == 1:
        return (x & 1).astype(np.int64)
    m = 1 << width
    x = x.astype(np.int64) & (m - 1)
    return np.where(x >= (m >> 1), x - m, x)


def _unsigned(x, width):
    if width >= 64:
        return x.astype(np.int64).view(np.uint64)
    return (x.astype(np.int64) & ((1 << width) - 1)).astype(np.uint64)


def _bf16_round(x):
    """float32 values rounded to the nearest bf16 (ties to even), as float32."""
    bits = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
    out = rounded.astype(np.uint32).view(np.float32)
    return np.where(np.isnan(x), x, out).astype(np.float32)


def _to_bits16(values, ty):
    """uint32 16-bit patterns of f16/bf16 values (float32 arrays)."""
    if ty == "bf16":
        return (np.asarray(values, np.float32).view(np.uint32) >> 16).astype(np.uint32)
    return (
        np.asarray(values, np.float32)
        .astype(np.float16)
        .view(np.uint16)
        .astype(np.uint32)
    )


def _from_bits16(bits, ty):
    bits = np.asarray(bits).astype(np.uint32) & 0xFFFF
    if ty == "bf16":
        return (bits << 16).astype(np.uint32).view(np.float32)
    return bits.astype(np.uint16).view(np.float16).astype(np.float32)


# --------------------------------------------------------------------------------------
# Memory.


class Memory:
    """Global memory: buffers placed in one byte array at 256-byte aligned addresses
    from GLOBAL_BASE; shared memory: its own array at SHARED_BASE."""

    GLOBAL_BASE = 1 << 32
    SHARED_BASE = 1 << 20

    def __init__(self):
        self.global_bytes = bytearray()
        self.g = None
        self.shared = None

    def alloc(self, array):
        """Places `array` (any numpy array) in global memory; returns its address."""
        data = np.ascontiguousarray(array).view(np.uint8).ravel()
        pad = (-len(self.global_bytes)) % 256
        self.global_bytes += bytes(pad)
        addr = self.GLOBAL_BASE + len(self.global_bytes)
        self.global_bytes += data.tobytes()
        self.global_bytes += bytes(256)
        self.g = np.frombuffer(self.global_bytes, dtype=np.uint8).copy()
        return addr

    def finish(self):
        self.g = np.frombuffer(self.global_bytes, dtype=np.uint8).copy()

    def read(self, addr, nbytes, dtype, shape):
        return (
            self.g[addr - self.GLOBAL_BASE : addr - self.GLOBAL_BASE + nbytes]
            .view(dtype)
            .reshape(shape)
        )

    def space(self, addr):
        """(array, offsets) for an array of addresses, all in one space."""
        addr = np.asarray(addr, dtype=np.int64)
        if addr.size and addr.min() >= self.GLOBAL_BASE:
            return self.g, addr - self.GLOBAL_BASE
        if addr.size and addr.max() < self.GLOBAL_BASE:
            return self.shared, addr - self.SHARED_BASE
        raise ValueError("addresses span global and shared memory")

    def load(self, addr, nbytes):
        arr, off = self.space(addr)
        idx = off[:, None] + np.arange(nbytes)[None, :]
        if idx.size and (idx.min() < 0 or idx.max() >= len(arr)):
            raise IndexError(
                f"load out of bounds: {idx.min()}..{idx.max()} of {len(arr)}"
            )
        return arr[idx]

    def store(self, addr, data):
        arr, off = self.space(addr)
        idx = off[:, None] + np.arange(data.shape[1])[None, :]
        if idx.size and (idx.min() < 0 or idx.max() >= len(arr)):
            raise IndexError(
                f"store out of bounds: {idx.min()}..{idx.max()} of {len(arr)}"
            )
        arr[idx] = data


def _bytes_to_value(raw, ty):
    """Per-lane bytes [lanes, size] -> the value of type `ty`."""
    v = _vector(ty)
    elt = v[1] if v else ty
    n = v[0] if v else 1
    lanes = raw.shape[0]
    raw = np.ascontiguousarray(raw)
    if elt in ("bf16", "f16"):
        bits = raw.view(np.uint16).reshape(lanes, n).astype(np.uint32)
        vals = _from_bits16(bits, elt)
    elif elt == "f32":
        vals = raw.view(np.float32).reshape(lanes, n)
    elif elt.startswith("i") or elt == "index":
        width = _int_width(elt)
        dt = {8: np.int8, 16: np.int16, 32: np.int32, 64: np.int64}[width]
        vals = raw.view(dt).reshape(lanes, n).astype(np.int64)
    elif elt.startswith("!llvm.ptr"):
        vals = raw.view(np.int64).reshape(lanes, n)
    else:
        raise NotImplementedError(ty)
    return vals if v else vals[:, 0]


def _value_to_bytes(val, ty):
    v = _vector(ty)
    elt = v[1] if v else ty
    lanes = val.shape[0]
    vals = val if v else val[:, None]
    if elt in ("bf16", "f16"):
        out = _to_bits16(vals, elt).astype(np.uint16)
    elif elt == "f32":
        out = np.asarray(vals, np.float32)
    elif elt.startswith("i") or elt == "index":
        dt = {8: np.int8, 16: np.int16, 32: np.int32, 64: np.int64}[_int_width(elt)]
        out = _wrap(np.asarray(vals), _int_width(elt)).astype(dt)
    elif elt.startswith("!llvm.ptr"):
        out = np.asarray(vals, np.int64)
    else:
        raise NotImplementedError(ty)
    return np.ascontiguousarray(out).view(np.uint8).reshape(lanes, -1)


# --------------------------------------------------------------------------------------
# The interpreter.

_CMPI = ["eq", "ne", "slt", "sle", "sgt", "sge", "ult", "ule", "ugt", "uge"]
_CMPF = [
    "false", "oeq", "ogt", "oge", "olt", "ole", "one", "ord",
    "ueq", "ugt", "uge", "ult", "ule", "une", "uno", "true",
]  # fmt: skip


def _prop(text, key):
    m = re.search(rf"\b{key} = ([^,}}]+(?:<[^>]*>)?)", text)
    return m.group(1).strip() if m else None


class CTA:
    """One CTA of `threads` threads at block index `block` of grid `grid`."""

    def __init__(self, mem, threads, block, grid, shared_bytes):
        self.mem = mem
        self.n = threads
        self.block, self.grid = block, grid
        mem.shared = np.zeros(shared_bytes + 64, dtype=np.uint8)
        self.env = {}
        self.groups = []  # committed cp.async groups, oldest first
        self.pending = []  # the copies of the group not yet committed
        self.lane = np.arange(threads) % 32
        self.warp_base = np.arange(threads) - self.lane

    # ---- values
    def get(self, name):
        return self.env[name]

    def const(self, value):
        return np.full(self.n, value)

    # ---- the walk
    def run_block(self, block, mask):
        for op in block.ops:
            if op.name in ("scf.yield", "gpu.return"):
                return [self.get(o) for o in op.operands]
            self.run_op(op, mask)
        return []

    def set_results(self, op, values):
        for r, v in zip(op.results, values):
            self.env[r] = v

    def run_op(self, op, mask):
        name = op.name
        handler = getattr(self, "op_" + name.replace(".", "_"), None)
        if handler is None:
            raise NotImplementedError(name)
        out = handler(op, mask)
        if out is not None:
            self.set_results(op, out if isinstance(out, list) else [out])

    # ---- arith
    def op_arith_constant(self, op, mask):
        text = op.props.split("value = ", 1)[1].rstrip("}").strip()
        if text in ("true", "false"):
            return self.const(1 if text == "true" else 0).astype(np.int64)
        value, ty = text.rsplit(":", 1)
        value, ty = value.strip(), ty.strip()
        if value in ("true", "false"):
            return self.const(1 if value == "true" else 0).astype(np.int64)
        if ty in ("f32", "f16", "bf16", "f64"):
            if value.startswith("0x"):
                bits = int(value, 16)
                f = np.array([bits], dtype=np.uint32).view(np.float32)[0]
            else:
                f = np.float32(float(value))
            return self.const(f).astype(np.float32)
        return _wrap(self.const(int(value)), _int_width(ty))

    def _int_binop(self, op, fn, unsigned=False):
        ty = op.types[1][0]
        w = _int_width(ty)
        a, b = self.get(op.operands[0]), self.get(op.operands[1])
        if unsigned:
            ua, ub = _unsigned(a, w), _unsigned(b, w)
            with np.errstate(all="ignore"):
                r = fn(
                    ua,
                    (
                        np.where(ub == 0, 1, ub)
                        if fn in (np.floor_divide, np.remainder)
                        else ub
                    ),
                )
            return _wrap(r.astype(np.int64) if w < 64 else r.view(np.int64), w)
        with np.errstate(all="ignore"):
            return _wrap(fn(a, b), w)

    def op_arith_addi(self, op, m):
        return self._int_binop(op, np.add)

    def op_arith_subi(self, op, m):
        return self._int_binop(op, np.subtract)

    def op_arith_muli(self, op, m):
        return self._int_binop(op, np.multiply)

    def op_arith_divui(self, op, m):
        return self._int_binop(op, np.floor_divide, unsigned=True)

    def op_arith_remui(self, op, m):
        return self._int_binop(op, np.remainder, unsigned=True)

    def op_arith_mului_extended(self, op, m):
        # (low, high) halves of the unsigned product.
        w = _int_width(op.types[1][0])
        a = _unsigned(self.get(op.operands[0]), w)
        b = _unsigned(self.get(op.operands[1]), w)
        if w <= 32:
            prod = a * b
            return [
                _wrap(prod.astype(np.int64), w),
                _wrap((prod >> np.uint64(w)).astype(np.int64), w),
            ]
        prods = [int(x) * int(y) for x, y in zip(a, b)]
        mask = (1 << 64) - 1
        low = np.array([p & mask for p in prods], dtype=np.uint64).view(np.int64)
        high = np.array([p >> 64 for p in prods], dtype=np.uint64).view(np.int64)
        return [low, high]

    def op_arith_ceildivui(self, op, m):
        w = _int_width(op.types[1][0])
        a = _unsigned(self.get(op.operands[0]), w)
        b = _unsigned(self.get(op.operands[1]), w)
        b = np.where(b == 0, 1, b)
        return _wrap(((a + b - np.uint64(1)) // b).astype(np.int64), w)

    def op_arith_divsi(self, op, m):
        a, b = self.get(op.operands[0]), self.get(op.operands[1])
        b = np.where(b == 0, 1, b)
        return _wrap(np.trunc(a / b).astype(np.int64), _int_width(op.types[1][0]))

    def op_arith_minui(self, op, m):
        return self._int_binop(op, np.minimum, unsigned=True)

    def op_arith_maxui(self, op, m):
        return self._int_binop(op, np.maximum, unsigned=True)

    def op_arith_minsi(self, op, m):
        return self._int_binop(op, np.minimum)

    def op_arith_maxsi(self, op, m):
        return self._int_binop(op, np.maximum)

    def op_arith_andi(self, op, m):
        return self._int_binop(op, np.bitwise_and)

    def op_arith_ori(self, op, m):
        return self._int_binop(op, np.bitwise_or)

    def op_arith_xori(self, op, m):
        return self._int_binop(op, np.bitwise_xor)

    def op_arith_shli(self, op, m):
        return self._int_binop(op, np.left_shift)

    def op_arith_shrui(self, op, m):
        return self._int_binop(op, np.right_shift, unsigned=True)

    def op_arith_shrsi(self, op, m):
        return self._int_binop(op, np.right_shift)

    def op_arith_cmpi(self, op, m):
        pred = _CMPI[int(_prop(op.props, "predicate").split(":")[0])]
        w = _int_width(op.types[0][0])
        a, b = self.get(op.operands[0]), self.get(op.operands[1])
        if pred[0] == "u":
            a, b = _unsigned(a, w), _unsigned(b, w)
            pred = pred[1:]
            pred = {"lt": "slt", "le": "sle", "gt": "sgt", "ge": "sge"}[pred]
        fn = {
            "eq": np.equal, "ne": np.not_equal, "slt": np.less,
            "sle": np.less_equal, "sgt": np.greater, "sge": np.greater_equal,
        }[pred]  # fmt: skip
        return fn(a, b).astype(np.int64)

    def op_arith_cmpf(self, op, m):
        pred = _CMPF[int(_prop(op.props, "predicate").split(":")[0])]
        a, b = self.get(op.operands[0]), self.get(op.operands[1])
        unordered = np.isnan(a) | np.isnan(b)
        base = {
            "eq": np.equal, "gt": np.greater, "ge": np.greater_equal,
            "lt": np.less, "le": np.less_equal, "ne": np.not_equal,
        }  # fmt: skip
        with np.errstate(invalid="ignore"):
            if pred in ("false", "true"):
                r = np.full(a.shape, pred == "true")
            elif pred == "ord":
                r = ~unordered
            elif pred == "uno":
                r = unordered
            elif pred[0] == "o":
                r = base[pred[1:]](a, b) & ~unordered
            else:
                r = base[pred[1:]](a, b) | unordered
        return r.astype(np.int64)

    def op_arith_select(self, op, m):
        c, a, b = (self.get(o) for o in op.operands)
        c = c.astype(bool)
        if a.ndim == 2:
            c = c[:, None]
        return np.where(c, a, b)

    def _cast_int(self, op, signed):
        src = _int_width(op.types[0][0])
        dst = _int_width(op.types[1][0])
        x = self.get(op.operands[0])
        if not signed:
            x = _unsigned(x, src).astype(np.int64)
        return _wrap(x, dst)

    def op_arith_index_cast(self, op, m):
        return self._cast_int(op, True)

    def op_arith_index_castui(self, op, m):
        return self._cast_int(op, False)

    def op_arith_extsi(self, op, m):
        return self._cast_int(op, True)

    def op_arith_extui(self, op, m):
        return self._cast_int(op, False)

    def op_arith_trunci(self, op, m):
        return self._cast_int(op, True)

    def op_arith_uitofp(self, op, m):
        w = _int_width(op.types[0][0])
        return _unsigned(self.get(op.operands[0]), w).astype(np.float32)

    def op_arith_sitofp(self, op, m):
        return self.get(op.operands[0]).astype(np.float32)

    def _float_binop(self, op, fn):
        a, b = self.get(op.operands[0]), self.get(op.operands[1])
        with np.errstate(all="ignore"):
            return fn(np.float32(0) + a, b).astype(np.float32)

    def op_arith_addf(self, op, m):
        return self._float_binop(op, np.add)

    def op_arith_subf(self, op, m):
        return self._float_binop(op, np.subtract)

    def op_arith_mulf(self, op, m):
        return self._float_binop(op, np.multiply)

    def op_arith_divf(self, op, m):
        return self._float_binop(op, np.divide)

    def op_arith_maximumf(self, op, m):
        return self._float_binop(op, np.maximum)

    def op_arith_minimumf(self, op, m):
        return self._float_binop(op, np.minimum)

    def op_arith_negf(self, op, m):
        return (-self.get(op.operands[0])).astype(np.float32)

    def op_math_fma(self, op, m):
        a, b, c = (self.get(o).astype(np.float64) for o in op.operands)
        with np.errstate(all="ignore"):
            return (a * b + c).astype(np.float32)

    def op_arith_truncf(self, op, m):
        x = self.get(op.operands[0])
        dst = op.types[1][0]
        elt = _vector(dst)[1] if _vector(dst) else dst
        if elt == "bf16":
            return _bf16_round(x)
        if elt == "f16":
            return x.astype(np.float16).astype(np.float32)
        return x.astype(np.float32)

    def op_arith_extf(self, op, m):
        return self.get(op.operands[0]).astype(np.float32)

    # ---- vector
    def _position(self, op):
        return int(re.search(r"static_position = array<i64: (\d+)>", op.props).group(1))

    def op_vector_extract(self, op, m):
        return self.get(op.operands[0])[:, self._position(op)].copy()

    def op_vector_insert(self, op, m):
        v = self.get(op.operands[1]).copy()
        v[:, self._position(op)] = self.get(op.operands[0])
        return v

    # ---- llvm
    def op_llvm_mlir_poison(self, op, m):
        ty = op.types[1][0]
        v = _vector(ty)
        if v:
            return np.zeros(
                (self.n, v[0]), dtype=np.float32 if v[1][0] in "fb" else np.int64
            )
        return np.zeros(self.n, dtype=np.float32 if ty[0] in "fb" else np.int64)

    def op_llvm_mlir_zero(self, op, m):
        return self.const(0).astype(np.int64)

    def op_llvm_mlir_addressof(self, op, m):
        return self.const(Memory.SHARED_BASE).astype(np.int64)

    def op_llvm_getelementptr(self, op, m):
        elt = _prop(op.props, "elem_type")
        base = self.get(op.operands[0])
        off = self.get(op.operands[1]) if len(op.operands) > 1 else 0
        return (base + off * type_size(elt)).astype(np.int64)

    def op_llvm_load(self, op, m):
        ty = op.types[1][0]
        addr = self.get(op.operands[0])
        size = type_size(ty)
        act = m.astype(bool)
        raw = np.zeros((self.n, size), dtype=np.uint8)
        if act.any():
            raw[act] = self.mem.load(addr[act], size)
        return _bytes_to_value(raw, ty)

    def op_llvm_store(self, op, m):
        ty = op.types[0][0]
        val, addr = self.get(op.operands[0]), self.get(op.operands[1])
        act = m.astype(bool)
        if act.any():
            data = _value_to_bytes(val, ty)
            self.mem.store(addr[act], data[act])

    def op_llvm_extractvalue(self, op, m):
        pos = int(re.search(r"position = array<i64: (\d+)>", op.props).group(1))
        return self.get(op.operands[0])[pos]

    def op_llvm_bitcast(self, op, m):
        src, dst = op.types[0][0], op.types[1][0]
        x = self.get(op.operands[0])
        vs, vd = _vector(src), _vector(dst)
        if src == "i32" and vd and vd[0] == 2:
            bits = _unsigned(x, 32)
            return np.stack(
                [_from_bits16(bits & 0xFFFF, vd[1]), _from_bits16(bits >> 16, vd[1])], 1
            )
        if vs and vs[0] == 2 and dst == "i32":
            lo = _to_bits16(x[:, 0], vs[1]).astype(np.int64)
            hi = _to_bits16(x[:, 1], vs[1]).astype(np.int64)
            return _wrap(lo | (hi << 16), 32)
        raise NotImplementedError(f"bitcast {src} -> {dst}")

    def op_llvm_icmp(self, op, m):
        pred = _prop(op.props, "predicate")
        a, b = self.get(op.operands[0]), self.get(op.operands[1])
        if pred.startswith('"ne"') or pred.startswith("1 "):
            return (a != b).astype(np.int64)
        if pred.startswith('"eq"') or pred.startswith("0 "):
            return (a == b).astype(np.int64)
        raise NotImplementedError(f"icmp {pred}")

    def op_llvm_call_intrinsic(self, op, m):
        name = re.search(r'intrin = "([\w.]+)"', op.props).group(1)
        x = self.get(op.operands[0]).astype(np.float32)
        with np.errstate(all="ignore"):
            if name.startswith("llvm.nvvm.ex2.approx"):
                r = np.exp2(x)
            elif name.startswith("llvm.nvvm.lg2.approx"):
                r = np.log2(x)
            elif name.startswith("llvm.nvvm.tanh.approx"):
                r = np.tanh(x)
            else:
                raise NotImplementedError(name)
        return r.astype(np.float32)

    def op_llvm_intr_tanh(self, op, m):
        # attn.softcap's tanh (tanh.approx.f32 once lowered): exact here.
        with np.errstate(all="ignore"):
            return np.tanh(self.get(op.operands[0]).astype(np.float32)).astype(
                np.float32
            )

    def op_llvm_atomicrmw(self, op, m):
        ty = op.types[1][0]
        addr, val = self.get(op.operands[0]), self.get(op.operands[1])
        size = type_size(ty)
        old = np.zeros(self.n, dtype=np.int64)
        for lane in np.nonzero(m)[0]:
            cur = _bytes_to_value(self.mem.load(addr[lane : lane + 1], size), ty)
            old[lane] = cur[0]
            self.mem.store(
                addr[lane : lane + 1], _value_to_bytes(cur + val[lane : lane + 1], ty)
            )
        return old

    # ---- gpu
    def _dim(self, op):
        return "xyz".index(re.search(r"#gpu<dim (\w)>", op.props).group(1))

    def op_gpu_thread_id(self, op, m):
        return (
            np.arange(self.n, dtype=np.int64) if self._dim(op) == 0 else self.const(0)
        )

    def op_gpu_block_id(self, op, m):
        return self.const(self.block[self._dim(op)]).astype(np.int64)

    def op_gpu_grid_dim(self, op, m):
        return self.const(self.grid[self._dim(op)]).astype(np.int64)

    def op_gpu_block_dim(self, op, m):
        return self.const(self.n if self._dim(op) == 0 else 1).astype(np.int64)

    def op_gpu_barrier(self, op, m):
        if not m.all():
            raise RuntimeError("gpu.barrier under divergent control flow")

    # ---- nvvm
    def op_nvvm_bar_warp_sync(self, op, m):
        pass

    def op_nvvm_griddepcontrol(self, op, m):
        pass

    def op_nvvm_shfl_sync(self, op, m):
        kind = _prop(op.props, "kind")
        val = self.get(op.operands[1])
        offset = self.get(op.operands[2])
        if "bfly" in kind:
            src = self.warp_base + (self.lane ^ offset)
        elif "up" in kind:
            src = self.warp_base + np.where(
                self.lane >= offset, self.lane - offset, self.lane
            )
        elif "idx" in kind:
            src = self.warp_base + (offset & 31)
        else:
            raise NotImplementedError(kind)
        return val[src]

    def op_nvvm_vote_sync(self, op, m):
        kind = _prop(op.props, "kind")
        if "vote_sync_kind any" not in kind:
            raise NotImplementedError(f"vote.sync {kind}")
        pred = self.get(op.operands[1]).astype(bool) & m.astype(bool)
        anyw = np.zeros(self.n, dtype=bool)
        for w in range(0, self.n, 32):
            anyw[w : w + 32] = pred[w : w + 32].any()
        return anyw.astype(np.int64)

    def op_nvvm_cp_async_shared_global(self, op, m):
        dst, src = self.get(op.operands[0]), self.get(op.operands[1])
        size = int(_prop(op.props, "size").split(":")[0])
        n = self.get(op.operands[2]) if len(op.operands) > 2 else self.const(size)
        act = np.nonzero(m)[0]
        if len(act):
            nbytes = n[act]
            data = np.zeros((len(act), size), dtype=np.uint8)
            reading = nbytes > 0
            if reading.any():
                got = self.mem.load(src[act][reading], size)
                keep = np.arange(size)[None, :] < nbytes[reading][:, None]
                data[reading] = np.where(keep, got, 0)
            self.pending.append((dst[act], data))

    def op_nvvm_cp_async_commit_group(self, op, m):
        self.groups.append(self.pending)
        self.pending = []

    def op_nvvm_cp_async_wait_group(self, op, m):
        keep = int(_prop(op.props, "n").split(":")[0])
        while len(self.groups) > keep:
            for dst, data in self.groups.pop(0):
                self.mem.store(dst, data)

    def op_nvvm_ldmatrix(self, op, m):
        layout = _prop(op.props, "layout")
        trans = "col" in layout
        count = int(_prop(op.props, "num").split(":")[0])
        addr = self.get(op.operands[0])
        rows = self.mem.load(addr, 16).view(np.uint16).reshape(self.n, 8)  # [lane, 8]
        regs = [np.zeros(self.n, dtype=np.int64) for _ in range(count)]
        for w in range(0, self.n, 32):
            for j in range(count):
                mat = rows[w + 8 * j : w + 8 * j + 8]  # [row r][col c]
                for lane in range(32):
                    g, t = lane // 4, lane % 4
                    if trans:
                        lo, hi = mat[2 * t, g], mat[2 * t + 1, g]
                    else:
                        lo, hi = mat[g, 2 * t], mat[g, 2 * t + 1]
                    regs[j][w + lane] = int(lo) | (int(hi) << 16)
        return tuple(_wrap(r, 32) for r in regs)

    def op_nvvm_mma_sync(self, op, m):
        shape = re.search(
            r"shape = #nvvm.shape<m = (\d+), n = (\d+), k = (\d+)>", op.props
        )
        assert shape.groups() == ("16", "8", "16"), op.props
        elt = "bf16" if "mma_type<bf16>" in op.props else "f16"
        a = [self.get(o) for o in op.operands[0:4]]
        b = [self.get(o) for o in op.operands[4:6]]
        c = [self.get(o) for o in op.operands[6:10]]

        def halves(v):
            if v.ndim == 2:  # vector<2xf16>
                return v[:, 0], v[:, 1]
            bits = _unsigned(v, 32)
            return _from_bits16(bits & 0xFFFF, elt), _from_bits16(bits >> 16, elt)

        ah = [halves(x) for x in a]
        bh = [halves(x) for x in b]
        d = [np.zeros(self.n, dtype=np.float32) for _ in range(4)]
        for w in range(0, self.n, 32):
            A = np.zeros((16, 16))
            B = np.zeros((16, 8))
            C = np.zeros((16, 8))
            for lane in range(32):
                g, t = lane // 4, lane % 4
                i = w + lane
                for r, (row, col) in enumerate(
                    [(g, 0), (g + 8, 0), (g, 8), (g + 8, 8)]
                ):
                    A[row, col + 2 * t] = ah[r][0][i]
                    A[row, col + 2 * t + 1] = ah[r][1][i]
                for r, krow in enumerate([0, 8]):
                    B[krow + 2 * t, g] = bh[r][0][i]
                    B[krow + 2 * t + 1, g] = bh[r][1][i]
                C[g, 2 * t], C[g, 2 * t + 1] = c[0][i], c[1][i]
                C[g + 8, 2 * t], C[g + 8, 2 * t + 1] = c[2][i], c[3][i]
            D = (A @ B + C).astype(np.float32)
            for lane in range(32):
                g, t = lane // 4, lane % 4
                i = w + lane
                d[0][i], d[1][i] = D[g, 2 * t], D[g, 2 * t + 1]
                d[2][i], d[3][i] = D[g + 8, 2 * t], D[g + 8, 2 * t + 1]
        return tuple(d)

    # ---- scf
    def op_scf_if(self, op, m):
        cond = self.get(op.operands[0]).astype(bool)
        then_m = m.astype(bool) & cond
        else_m = m.astype(bool) & ~cond
        outs_then = outs_else = None
        if then_m.any():
            outs_then = self.run_block(op.regions[0][0], then_m)
        if len(op.regions) > 1 and op.regions[1] and else_m.any():
            outs_else = self.run_block(op.regions[1][0], else_m)
        if not op.results:
            return None
        if outs_then is None:
            return outs_else
        if outs_else is None:
            return outs_then
        merged = []
        for x, y in zip(outs_then, outs_else):
            c = cond[:, None] if x.ndim == 2 else cond
            merged.append(np.where(c, x, y))
        return merged

    def op_scf_for(self, op, m):
        lb, ub, step = (self.get(o) for o in op.operands[:3])
        carried = [self.get(o).copy() for o in op.operands[3:]]
        block = op.regions[0][0]
        iv = lb.copy()
        while True:
            active = m.astype(bool) & (iv < ub)
            if not active.any():
                break
            self.env[block.args[0]] = iv
            for name, v in zip(block.args[1:], carried):
                self.env[name] = v
            outs = self.run_block(block, active)
            for k, v in enumerate(outs):
                c = active[:, None] if v.ndim == 2 else active
                carried[k] = np.where(c, v, carried[k])
            iv = np.where(active, iv + step, iv)
        return carried if op.results else None


def run_kernel(kernel, mem, grid, threads, params, shared_bytes):
    """Runs gpu.func `kernel` over `grid` (x, y, z) with `params` (one number a
    parameter, in order)."""
    block = kernel.regions[0][0]
    assert len(block.args) == len(params), (len(block.args), len(params))
    for z in range(grid[2]):
        for y in range(grid[1]):
            for x in range(grid[0]):
                cta = CTA(mem, threads, (x, y, z), grid, shared_bytes)
                for name, ty, value in zip(block.args, block.arg_types, params):
                    if ty == "f32":
                        cta.env[name] = cta.const(np.float32(value)).astype(np.float32)
                    else:
                        cta.env[name] = cta.const(int(value)).astype(np.int64)
                cta.run_block(block, np.ones(threads, dtype=bool))
                if cta.pending or cta.groups:
                    # Copies the kernel never waited for land at its end.
                    cta.op_nvvm_cp_async_commit_group(None, None)
                    for group in cta.groups:
                        for dst, data in group:
                            mem.store(dst, data)


def kernel_launch_facts(kernel):
    """(threads, dynamic shared memory bytes) the kernel records."""
    threads = int(
        re.search(
            r"known_block_size = array<i32: (\d+)", kernel.attrs + kernel.props
        ).group(1)
    )
    smem = re.search(r"attn.shared_memory_bytes = (\d+)", kernel.attrs + kernel.props)
    return threads, int(smem.group(1)) if smem else 0
