// See checkpoint.hpp.
#include "checkpoint.hpp"

#include <sys/stat.h>

#include "batchprop/check.hpp"
#include "data_options.hpp"

namespace batchprop::cli {

using nlohmann::json;

namespace {

constexpr int kFormat = 1;  // "checkpoint"."format": bumped when the layout changes

const json& field(const json& obj, const char* name, const std::string& path) {
    const auto it = obj.find(name);
    if (it == obj.end())
        BP_THROW(path << ": a damaged checkpoint: \"" << name << "\" is missing from its \"checkpoint\" object");
    return *it;
}

int int_field(const json& obj, const char* name, const std::string& path, long long lo) {
    const json& v = field(obj, name, path);
    if (!v.is_number_integer() || v.get<long long>() < lo || v.get<long long>() > 2000000000)
        BP_THROW(path << ": a damaged checkpoint: \"" << name << "\" is " << v.dump() << ", not a whole number >= " << lo);
    return int(v.get<long long>());
}

// A flag's value as the user would type it, for messages.
std::string shown(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

}  // namespace

Checkpoint read_checkpoint(const std::string& path) {
    require_file(path, "--resume");
    Checkpoint c;
    c.path = path;
    c.model = load_model(path);  // the model part: syntax, shapes, values
    const json& bp = c.model.batchprop;
    if (!bp.is_object() || !bp.contains("checkpoint") || !bp.at("checkpoint").is_object())
        BP_THROW(path << ": a model file but not a checkpoint (no \"checkpoint\" in its \"batchprop\" object); "
                         "--resume takes a file written by --checkpoint (use --init-model to start from a model)");
    const json& ck = bp.at("checkpoint");
    if (int_field(ck, "format", path, 1) != kFormat)
        BP_THROW(path << ": checkpoint format " << ck.at("format").dump() << " is not the one this batchprop reads ("
                      << kFormat << ")");
    c.epochs_done = int_field(ck, "epochs_done", path, 0);
    const json& finished = field(ck, "finished", path);
    if (!finished.is_boolean()) BP_THROW(path << ": a damaged checkpoint: \"finished\" is not true/false");
    c.finished = finished.get<bool>();
    c.settings = field(ck, "settings", path);
    c.data = field(ck, "data", path);
    if (!c.settings.is_object() || !c.data.is_object())
        BP_THROW(path << ": a damaged checkpoint: \"settings\" and \"data\" must be objects");
    const json& es = field(ck, "early_stop", path);
    if (!es.is_object()) BP_THROW(path << ": a damaged checkpoint: \"early_stop\" must be an object");
    const json& best_correct = field(es, "best_correct", path);
    if (!best_correct.is_number_integer() || best_correct.get<long long>() < -1)
        BP_THROW(path << ": a damaged checkpoint: \"best_correct\" is " << best_correct.dump());
    c.early_stop.best_correct = best_correct.get<long long>();
    c.early_stop.best_epoch = int_field(es, "best_epoch", path, -1);  // -1: none yet, 0: the --init-model
    c.early_stop.since_best = int_field(es, "since_best", path, 0);
    if (es.contains("best_model")) {
        Model best = parse_model(es.at("best_model").dump(), path + " (its best epoch's model)");
        if (best.net.sizes() != c.model.net.sizes())
            BP_THROW(path << ": a damaged checkpoint: the best epoch's model has other sizes than the model");
        c.early_stop.best = std::move(best.net);
    }
    if (c.early_stop.best_epoch > c.epochs_done)
        BP_THROW(path << ": a damaged checkpoint: best epoch " << c.early_stop.best_epoch << " after the "
                      << c.epochs_done << " epochs done");
    return c;
}

void adopt_settings(const Checkpoint& c, std::vector<RunSetting>& settings, const std::set<std::string>& given) {
    std::string mismatches;
    for (RunSetting& s : settings) {
        const auto it = c.settings.find(s.flag);
        if (it == c.settings.end())
            BP_THROW(c.path << ": a damaged checkpoint: the setting " << s.flag << " is missing");
        if (!given.count(s.flag)) {
            try {
                s.set(*it);
            } catch (const json::exception&) {
                BP_THROW(c.path << ": a damaged checkpoint: " << s.flag << " is " << it->dump());
            } catch (const SettingError&) {
                BP_THROW(c.path << ": a damaged checkpoint: " << s.flag << " is " << it->dump());
            }
            continue;
        }
        const json now = s.get();
        if (s.flag == "--epochs") {
            if (now.get<int>() < c.epochs_done)
                BP_THROW("--epochs " << now.get<int>() << " is fewer than the " << c.epochs_done
                                     << " epochs the checkpoint " << c.path << " has done");
            continue;
        }
        if (s.check && now != *it)
            mismatches += (mismatches.empty() ? "" : ", ") + s.flag + " " + shown(now) + " (the run's: " + shown(*it) + ")";
    }
    if (!mismatches.empty())
        BP_THROW("--resume " << c.path << ": these flags contradict the run being resumed: " << mismatches
                             << "; leave them out to continue the run as it was started");
}

json data_identity(const std::vector<std::string>& files, int n_train, int n_eval) {
    json j;
    j["files"] = json::array();
    for (const std::string& f : files) {
        struct stat st {};
        const long long bytes = ::stat(f.c_str(), &st) == 0 ? (long long)st.st_size : -1;
        j["files"].push_back({{"path", f}, {"bytes", bytes}});
    }
    j["training_examples"] = n_train;
    j["evaluation_examples"] = n_eval;
    return j;
}

void check_same_data(const Checkpoint& c, const json& now) {
    if (now == c.data) return;
    BP_THROW("--resume " << c.path << ": the data differs from the run being resumed: it read " << c.data.dump()
                         << ", this run reads " << now.dump());
}

void write_checkpoint(const std::string& path, const Network<double>& net, Cost cost, json record, int epochs_done,
                      bool finished, const std::vector<RunSetting>& settings, const json& data,
                      const EarlyStopState& early_stop) {
    json ck;
    ck["format"] = kFormat;
    ck["epochs_done"] = epochs_done;
    ck["finished"] = finished;
    json s = json::object();
    for (const RunSetting& r : settings) s[r.flag] = r.get();
    ck["settings"] = std::move(s);
    ck["data"] = data;
    json es;
    es["best_correct"] = early_stop.best_correct;
    es["best_epoch"] = early_stop.best_epoch;
    es["since_best"] = early_stop.since_best;
    if (early_stop.best) es["best_model"] = json::parse(model_to_json(*early_stop.best, cost));
    ck["early_stop"] = std::move(es);
    record["checkpoint"] = std::move(ck);
    save_model(path, net, cost, record);
}

}  // namespace batchprop::cli
