// The list-valued flags of `batchprop sweep`, read into the library's SweepGrid: each value is
// read on its own, and a bad one is named with its place in the list ("--eta: 'x' (value 2 of
// 3) is not a number"). Their syntax:
//   --eta 0.025,0.25,2.5    --lambda 0,1,5    --batch 10,32      numbers, comma-separated
//   --seeds 1-4,10          whole numbers or ranges a-b (a <= b), comma-separated
//   --sizes 784,30,10:784,100,10                                   networks, colon-separated
// A value given twice is refused (it would train the same models twice). What the values may
// be (eta > 0, a network of at least two layers, ...) is the library's to check (expand_grid).
#pragma once

#include <string>

#include "batchprop/sweep.hpp"
#include "sweep_options.hpp"

namespace batchprop::cli {

// The grid the flags describe. Throws Error (a usage error for the caller) naming the flag
// and the value.
SweepGrid parse_grid(const SweepFlags& f);

// Each axis on its own (parse_grid reads them all).
std::vector<double> parse_numbers(const std::string& text, const std::string& flag);  // --eta, --lambda
std::vector<int> parse_whole_numbers(const std::string& text, const std::string& flag);  // --batch
std::vector<std::uint64_t> parse_seeds(const std::string& text);                      // --seeds
std::vector<std::vector<int>> parse_networks(const std::string& text);               // --sizes

// Each axis as the flags would give it again, canonically ("0.5,5"; "1-4" as "1,2,3,4"):
// what a checkpoint records, so that a resumed sweep compares values, not spellings.
std::string grid_text(const std::vector<double>& values);
std::string grid_text(const std::vector<int>& values);
std::string grid_text(const std::vector<std::uint64_t>& values);
std::string grid_text(const std::vector<std::vector<int>>& sizes);

}  // namespace batchprop::cli
