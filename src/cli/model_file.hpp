// Reading a model file named by a flag (--model, --init-model), with messages that name both.
#pragma once

#include <string>
#include <vector>

#include "batchprop/model_io.hpp"

namespace batchprop::cli {

// Checks that the file exists and is readable, then loads and validates it (model_io.hpp).
Model read_model(const std::string& path, const std::string& flag);

// Throws unless the model has exactly `sizes` (given explicitly through --sizes).
void check_model_sizes(const Model& model, const std::string& path, const std::vector<int>& sizes);

}  // namespace batchprop::cli
