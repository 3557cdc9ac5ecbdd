// RUN: attn-opt %s -split-input-file -verify-diagnostics -pass-pipeline="builtin.module(gpu.module(attn-tensor-map-params))" | FileCheck %s

// A kernel's tensor-map parameters (attn.tensor_map_args, after the NVVM
// conversion) become 128-byte by-value grid constants, 64-byte aligned: the
// `.param .align 64 .b8 [128]` whose address the TMA instructions take. The
// other parameters and kernels without the attribute are left alone.
// CHECK-LABEL: llvm.func @kernel(
// CHECK-SAME: %{{.*}}: !llvm.ptr<1>,
// CHECK-SAME: %{{.*}}: !llvm.ptr {llvm.align = 64 : i64, llvm.byval = !llvm.array<128 x i8>, nvvm.grid_constant},
// CHECK-SAME: %{{.*}}: i32,
// CHECK-SAME: %{{.*}}: !llvm.ptr {llvm.align = 64 : i64, llvm.byval = !llvm.array<128 x i8>, nvvm.grid_constant})
// CHECK-LABEL: llvm.func @plain(
// CHECK-SAME: %{{.*}}: !llvm.ptr)
gpu.module @kernels {
  llvm.func @kernel(%a: !llvm.ptr<1>, %k: !llvm.ptr, %n: i32, %v: !llvm.ptr)
      attributes {gpu.kernel, nvvm.kernel, attn.tensor_map_args = array<i64: 1, 3>} {
    llvm.return
  }
  llvm.func @plain(%p: !llvm.ptr) attributes {gpu.kernel, nvvm.kernel} {
    llvm.return
  }
}

// -----

gpu.module @kernels {
  // expected-error @+1 {{tensor-map parameter 1 must be a pointer, got 'i32'}}
  llvm.func @kernel(%a: !llvm.ptr<1>, %n: i32)
      attributes {gpu.kernel, nvvm.kernel, attn.tensor_map_args = array<i64: 1>} {
    llvm.return
  }
}

// -----

gpu.module @kernels {
  // expected-error @+1 {{'attn.tensor_map_args' must list parameter indices of a kernel (gpu.func or llvm.func)}}
  llvm.func @kernel(%a: !llvm.ptr<1>)
      attributes {gpu.kernel, nvvm.kernel, attn.tensor_map_args = array<i64: 2>} {
    llvm.return
  }
}
