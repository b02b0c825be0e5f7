// Whether a data set fits a network: its images the input layer, its labels the output layer.
// One check, shared by Session (before it trains, evaluates or predicts) and run_sweep (for
// every model before any trains, so that data no model of a sweep can use is one error, not a
// fault in every row). Internal: not installed.
#pragma once

#include <vector>

#include "batchprop/dataset.hpp"

namespace batchprop {

// Throws Error naming d's source (or its labels' source) when d's images are not sizes.front()
// pixels, or (need_labels) an example has no label or one beyond the sizes.back() outputs.
void check_data_fits(const Dataset& d, const std::vector<int>& sizes, bool need_labels);

}  // namespace batchprop
