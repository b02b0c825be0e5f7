/// @file
/// Error type and always-on checks. Library code throws batchprop::Error; it never exits.
#pragma once

#include "batchprop/export.hpp"

#include <sstream>
#include <stdexcept>
#include <string>

namespace batchprop {

/// Every failure the library reports: a bad input, a broken precondition, a failed CUDA or
/// BLAS call. what() is one line meant for a person: what failed, and where when useful.
class BATCHPROP_API Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

namespace detail {
[[noreturn]] inline void fail_at(const std::string& what, const char* file, int line) {
    std::ostringstream os;
    os << what << " (" << file << ':' << line << ')';
    throw Error(os.str());
}
}  // namespace detail

}  // namespace batchprop

// Precondition that stays on in release builds (unlike assert): a violated one is a bug or
// bad input, and silently wrong numbers are worse than an exception.
#define BP_REQUIRE(cond, msg)                                                              \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            std::ostringstream bp_os_;                                                     \
            bp_os_ << msg;                                                                 \
            ::batchprop::detail::fail_at(bp_os_.str() + " [" #cond "]", __FILE__, __LINE__); \
        }                                                                                  \
    } while (0)

// Error for input the user gave us: the message alone, no file:line of ours.
#define BP_THROW(msg)                         \
    do {                                      \
        std::ostringstream bp_os_;            \
        bp_os_ << msg;                        \
        throw ::batchprop::Error(bp_os_.str()); \
    } while (0)
