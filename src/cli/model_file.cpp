// See model_file.hpp.
#include "model_file.hpp"

#include "batchprop/check.hpp"
#include "data_options.hpp"

namespace batchprop::cli {

Model read_model(const std::string& path, const std::string& flag) {
    require_file(path, flag);
    return load_model(path);
}

void check_model_sizes(const Model& model, const std::string& path, const std::vector<int>& sizes) {
    if (model.net.sizes() != sizes)
        BP_THROW("--sizes " << sizes_to_string(sizes) << " does not match the model " << path << " (sizes "
                            << sizes_to_string(model.net.sizes()) << ")");
}

}  // namespace batchprop::cli
