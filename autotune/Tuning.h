// The tuning library of attn-tune and attn-pack (docs/autotune.md), one header
// per concern; LLVM Support only (compiling a bundle: Compile.h).
//   Table.h        the tables autotune/tables/<target>.json: read, write, look
//   up Resources.h    per-target limits, ptxas resources, PTX counts, pruning
//   Workloads.h    the benchmark workloads and those that rank a kernel
//   SearchSpace.h  the knob grids of the search spaces
//   Candidate.h    candidates: kinds, statuses, ids, generation, judging
//   Bundle.h       the bundle's JSON (candidates.json, records)
//   Selection.h    the fastest candidate per kernel, rank correlation
//   SplitPolicy.h  the split count (decodeNumSplits), policies, their choice
//   Model.h        the roofline + occupancy model
//   Ingest.h       timings.json or the model into the table and a report
#ifndef ATTN_AUTOTUNE_TUNING_H
#define ATTN_AUTOTUNE_TUNING_H

#include "autotune/Bundle.h"
#include "autotune/Candidate.h"
#include "autotune/Ingest.h"
#include "autotune/Model.h"
#include "autotune/Resources.h"
#include "autotune/SearchSpace.h"
#include "autotune/Selection.h"
#include "autotune/SplitPolicy.h"
#include "autotune/Table.h"
#include "autotune/Workloads.h"

#endif // ATTN_AUTOTUNE_TUNING_H
