// libFuzzer target for the IDX reader: arbitrary bytes, gzipped or not, through the same
// steps as a file (gunzip_if_gzip, parse_idx, images_from_idx). Only batchprop::Error may
// come out; anything else (a crash, a sanitizer report, another exception) is a bug.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "batchprop/check.hpp"
#include "batchprop/dataset.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        const std::vector<std::uint8_t> bytes = batchprop::gunzip_if_gzip({data, data + size}, "fuzz");
        const batchprop::IdxArray a = batchprop::parse_idx(bytes, "fuzz");
        std::size_t count = 1;
        for (std::uint32_t d : a.dims) count *= d;
        if (a.values.size() != count) __builtin_trap();  // parse_idx promises exactly this
        if (a.dims.size() == 3) {
            const batchprop::Dataset d = batchprop::images_from_idx(a, "fuzz");
            // Pixels are the file's bytes (0..255 by their type): only their count can be wrong.
            if (d.pixels.size() != std::size_t(d.n) * std::size_t(d.n_inputs)) __builtin_trap();
        }
    } catch (const batchprop::Error&) {
        // Rejected with a message: the expected outcome for most inputs.
    }
    return 0;
}
