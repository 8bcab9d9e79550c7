// src/planner/train_internal.h — internal helpers shared by the planner's .cc files.
#pragma once

#include "planner/planner.h"

namespace sskai::planner::internal {

// The cost model given a precomputed RunEstimate (perf depends only on type and node count).
Result<TrainCandidate> EvaluateWithEstimate(const TrainRequest& request, const Offering& offering,
                                            int offering_index, Market market, int nodes,
                                            const RunEstimate& estimate, const PlanOptions& options);

// True when `candidate` passes the request's budget and price caps (deadline checked separately).
bool WithinCaps(const TrainRequest& request, const TrainCandidate& candidate);

// Deterministic ranking: expected cost, then quantile time, then offering index, nodes, market.
bool RanksBefore(const TrainCandidate& a, const TrainCandidate& b);

std::string Hours(double seconds);  // "12.3 h" / "42 min"
std::string Usd(double usd);        // "$1,234.56" style, "$0.42"

}  // namespace sskai::planner::internal
