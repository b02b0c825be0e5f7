// libFuzzer target for the MNIST-CSV reader. Only batchprop::Error may come out, and what is
// accepted must be a consistent data set.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "batchprop/check.hpp"
#include "batchprop/csv.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        const batchprop::Dataset d =
            batchprop::parse_csv(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
        if (d.n < 1 || d.n_inputs < 1 || d.labels.size() != std::size_t(d.n) ||
            d.pixels.size() != std::size_t(d.n) * std::size_t(d.n_inputs))
            __builtin_trap();
        for (int label : d.labels)
            if (label < 0) __builtin_trap();
    } catch (const batchprop::Error&) {
    }
    return 0;
}
