// libFuzzer target for the model-file reader. Only batchprop::Error may come out (a stray
// nlohmann exception would reach the user as a cryptic message); a model that is accepted must
// survive write -> read unchanged, bit for bit.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "batchprop/check.hpp"
#include "batchprop/model_io.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    batchprop::Model m;
    try {
        m = batchprop::parse_model(std::string(reinterpret_cast<const char*>(data), size), "fuzz");
    } catch (const batchprop::Error&) {
        return 0;
    }
    const batchprop::Model back = batchprop::parse_model(batchprop::model_to_json(m.net, m.cost, m.batchprop), "again");
    const auto& a = m.net.params();
    const auto& b = back.net.params();
    if (back.net.sizes() != m.net.sizes() || back.cost != m.cost || a.size() != b.size() ||
        std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) != 0)
        __builtin_trap();
    return 0;
}
