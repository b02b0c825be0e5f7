// See failure.hpp.
#include "failure.hpp"

#include <new>
#include <stdexcept>

#include "batchprop/settings.hpp"
#include "commands.hpp"
#include "flag_values.hpp"

namespace batchprop::cli {

Failure failure_of(std::exception_ptr e) {
    try {
        std::rethrow_exception(e);
    } catch (const UsageError& u) {
        return {u.what(), kUsageExitCode};
    } catch (const SettingUnavailable& s) {
        return {flag_message(s), kFailureExitCode};
    } catch (const SettingError& s) {
        return {flag_message(s), kUsageExitCode};
    } catch (const std::bad_alloc&) {
        return {"out of memory", kFailureExitCode};
    } catch (const std::exception& x) {
        return {x.what(), kFailureExitCode};
    } catch (...) {
        return {"unknown error", kFailureExitCode};
    }
}

}  // namespace batchprop::cli
