// The roofline + occupancy model of attn-tune: a kernel's time on a workload
// where no GPU of the target exists (docs/autotune.md, "The model").
#ifndef ATTN_AUTOTUNE_MODEL_H
#define ATTN_AUTOTUNE_MODEL_H

#include "autotune/Candidate.h"
#include "autotune/Selection.h"

namespace attn::tune {

/// The roofline + occupancy model's time in ms of `knobs` (with `resources`
/// and `blocksPerSm` from the resource model) on `workload`, decode split as
/// `split` says on the model's device.
double modelTimeMs(const TargetLimits &limits, const Knobs &knobs,
                   const KernelResources &resources, int64_t blocksPerSm,
                   const Workload &workload, const DecodeSplit &split);

/// The model's time in ms of a decode kernel on `workload` with `numSplits`
/// splits (the runtime's num_splits argument).
double modelDecodeTimeMs(const TargetLimits &limits, const Knobs &knobs,
                         const KernelResources &resources, int64_t blocksPerSm,
                         const Workload &workload, int64_t numSplits);

/// Model times of every kernel candidate with resources on its workloads,
/// decode split as `split` says.
Times modelTimes(const std::vector<Candidate> &candidates,
                 const std::vector<Workload> &workloads,
                 const TargetLimits &limits, const DecodeSplit &split);

/// Adds to `times` the model times of the split candidates, run with kernel
/// candidate `kernel` (its first kernel) on that kernel's workloads.
void modelSplitTimes(const std::vector<Candidate> &candidates,
                     const Candidate &kernel,
                     const std::vector<Workload> &workloads,
                     const TargetLimits &limits, Times &times);

} // namespace attn::tune

#endif // ATTN_AUTOTUNE_MODEL_H
