// See metrics.hpp.
#include "metrics.hpp"

#include <cerrno>
#include <cstring>
#include <ctime>

#include "batchprop/check.hpp"

namespace batchprop::cli {

MetricsLog::MetricsLog(const std::string& path, const Monitor& monitor, nlohmann::ordered_json run, bool append)
    : path_(path),
      monitor_(monitor),
      run_(std::move(run)),
      file_(path == "-" ? stdout : std::fopen(path.c_str(), append ? "a" : "w")) {
    if (!file_) BP_THROW("--metrics " << path << ": cannot create (" << std::strerror(errno) << ")");
}

MetricsLog::~MetricsLog() {
    if (file_ && file_ != stdout) std::fclose(file_);
}

namespace {
std::string utc_now() {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}
}  // namespace

void MetricsLog::write(const EpochResult& r, const nlohmann::ordered_json& run) {
    nlohmann::ordered_json j;  // keys in the documented order
    j["epoch"] = r.epoch;
    j["seconds"] = r.train_seconds;
    j["examples"] = r.examples;  // fewer than the training set when Ctrl-C stopped the epoch
    j["examples_per_s"] = r.examples_per_second;
    const Monitor& m = monitor_;
    auto value = [](bool monitored, const std::optional<Evaluation>& e, bool accuracy) {
        if (!monitored || !e) return nlohmann::ordered_json(nullptr);
        return nlohmann::ordered_json(accuracy ? e->accuracy() : e->cost);
    };
    j["eval_accuracy"] = value(m.eval_acc, r.evaluation, true);
    j["eval_cost"] = value(m.eval_cost, r.evaluation, false);
    j["train_accuracy"] = value(m.train_acc, r.training, true);
    j["train_cost"] = value(m.train_cost, r.training, false);
    for (const auto& [key, value] : run.items()) j[key] = value;
    j["time"] = utc_now();
    const std::string line = j.dump() + "\n";
    if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() || std::fflush(file_) != 0)
        BP_THROW("--metrics " << path_ << ": write failed (" << std::strerror(errno) << ")");
}

}  // namespace batchprop::cli
