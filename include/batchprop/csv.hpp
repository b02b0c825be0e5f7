/// @file
/// The MNIST-CSV reader: one example per line, "label,pixel_1,...,pixel_k" with pixels 0..255
/// (the layout of the widely shared mnist_train.csv / mnist_test.csv), an optional header line.
/// It produces the same Dataset as the IDX reader; it does not write CSV.
#pragma once

#include "batchprop/export.hpp"

#include <string>
#include <string_view>

#include "batchprop/dataset.hpp"

namespace batchprop {

/// Parses CSV text. Every row must have the same number of fields (at least two); the first
/// line is a header when its first field is not a number. Labels are integers >= 0; pixels
/// are whole numbers in [0, 255], stored as bytes like IDX pixels. Empty lines are skipped; "\r\n"
/// line ends are accepted. Errors name `what` and the line number.
BATCHPROP_API Dataset parse_csv(std::string_view text, const std::string& what);

/// Reads and parses a CSV file (gzipped or not: the content decides, as for IDX files).
BATCHPROP_API Dataset load_csv(const std::string& path);

}  // namespace batchprop
