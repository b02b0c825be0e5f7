// How the CLI reports an error: the one line it prints and the exit status (0 success, 1
// failure, 2 usage error). Settings are named by their flags (flag_values.hpp).
#pragma once

#include <exception>
#include <string>

namespace batchprop::cli {

struct Failure {
    std::string message;  // without the "batchprop: error: " in front
    int code = 1;         // kFailureExitCode or kUsageExitCode
};

// The failure an exception stands for: a UsageError or a SettingError (settings that no run
// can use, or that contradict the data) is a usage error; a SettingUnavailable (a device that is
// not there) and everything else a failure. Not for Interrupted, which is no failure.
Failure failure_of(std::exception_ptr e);

}  // namespace batchprop::cli
