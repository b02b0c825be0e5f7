/// @file
/// Model files in the format of network2.py's Network.save() (NNDL ch. 3): one JSON object
///   {"sizes": [n_0, ..., n_L],
///    "weights": [w^1, ..., w^L],   w^l as n_l rows of n_{l-1} numbers (row i is w^l(i, :))
///    "biases":  [b^1, ..., b^L],   b^l as n_l rows of one number each ([[b_1], [b_2], ...])
///    "cost": "QuadraticCost" | "CrossEntropyCost"}
/// so a model trained here loads in network2.py's load() and the reverse. batchprop adds a
/// "batchprop" object (how the model was trained); any key besides the four is ignored on load.
/// A model holds no training state of its own; the checkpoints of `batchprop train --checkpoint`
/// are model files that carry it inside their "batchprop" object (src/cli/checkpoint.hpp).
#pragma once

#include "batchprop/export.hpp"

#include <nlohmann/json.hpp>
#include <string>

#include "batchprop/math.hpp"
#include "batchprop/network.hpp"

namespace batchprop {

struct Model {
    /// The parameters as stored. double holds every float exactly, so a float model survives
    /// the trip through a file bit for bit (Network::cast<float>() gives the original back).
    Network<double> net;
    Cost cost = Cost::quadratic;
    nlohmann::json batchprop;  ///< the file's "batchprop" object; null when absent
};

/// network2.py's class names for the costs.
BATCHPROP_API const char* cost_class_name(Cost cost);

/// The JSON text of a model (compact, keys in network2.py's order). Numbers are written with
/// the shortest decimal form that reads back to the same double. `settings`, when not null,
/// is stored under "batchprop".
template <class T>
BATCHPROP_API std::string model_to_json(const Network<T>& net, Cost cost, const nlohmann::json& settings = nullptr);

/// Writes the model to `path` atomically (see output_file.hpp): an existing file is replaced
/// only by a complete new one.
template <class T>
BATCHPROP_API void save_model(const std::string& path, const Network<T>& net, Cost cost,
                const nlohmann::json& settings = nullptr);

/// Parses and validates a model: JSON syntax, the four keys, every shape against "sizes", every
/// value a finite number. Each error is one line starting with `what` (the file name).
BATCHPROP_API Model parse_model(const std::string& text, const std::string& what);

/// Reads and parses the model file at `path`.
BATCHPROP_API Model load_model(const std::string& path);

}  // namespace batchprop
