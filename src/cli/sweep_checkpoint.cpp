// See sweep_checkpoint.hpp.
#include "sweep_checkpoint.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "batchprop/check.hpp"
#include "data_options.hpp"
#include "run_record.hpp"
#include "output_paths.hpp"
#include "sweep_lists.hpp"

namespace batchprop::cli {

using nlohmann::json;

namespace {

constexpr int kFormat = 1;  // sweep.json's "format": bumped when the layout changes

// A list flag recorded as its canonical text, so that "1-4" and "1,2,3,4" agree.
template <class Canonical>
RunSetting list_setting(std::string flag, std::string& text, Canonical canonical) {
    return RunSetting{std::move(flag), [&text, canonical] { return json(canonical(text)); },
                      [&text](const json& j) { text = j.get<std::string>(); }};
}

}  // namespace

std::vector<RunSetting> sweep_settings(SweepFlags& f) {
    TrainOptions& o = f.base;
    std::vector<RunSetting> s{
        list_setting("--sizes", f.sizes, [](const std::string& t) { return grid_text(parse_networks(t)); }),
        list_setting("--eta", f.eta, [](const std::string& t) { return grid_text(parse_numbers(t, "--eta")); }),
        list_setting("--lambda", f.lambda, [](const std::string& t) { return grid_text(parse_numbers(t, "--lambda")); }),
        list_setting("--batch", f.batch, [](const std::string& t) { return grid_text(parse_whole_numbers(t, "--batch")); }),
        list_setting("--seeds", f.seeds, [](const std::string& t) { return grid_text(parse_seeds(t)); }),
        bind_setting("--epochs", o.cfg.epochs), bind_setting("--cost", o.cfg.cost), bind_setting("--init", o.init),
        bind_setting("--mode", o.cfg.mode), bind_setting("--launch", o.cfg.launch),
        bind_setting("--dtype", o.compute.dtype), bind_setting("--train-limit", o.train_limit),
        bind_setting("--validation", o.validation), bind_setting("--early-stop", o.early_stop),
        no_shuffle_setting(o), bind_setting("--format", o.data.format),
        bind_setting("--device", o.compute.device, false)};
    add_data_settings(s, o.data);
    return s;
}

std::string sweep_file(const std::string& dir) { return (std::filesystem::path(dir) / "sweep.json").string(); }

namespace {
// DIR/run-NNN<suffix>: NNN the run id, at least three digits, as wide as the largest id.
std::string model_file(const std::string& dir, int id, int n_models, const char* suffix) {
    const int width = int(std::to_string(std::max(1, n_models - 1)).size());
    char name[64];
    std::snprintf(name, sizeof name, "run-%0*d%s", std::max(3, width), id, suffix);
    return (std::filesystem::path(dir) / name).string();
}
}  // namespace

std::string model_checkpoint_file(const std::string& dir, int id, int n_models) {
    return model_file(dir, id, n_models, ".ckpt.json");
}

std::string model_save_file(const std::string& dir, int id, int n_models) {
    return model_file(dir, id, n_models, ".json");
}

Checkpoint read_sweep_checkpoint(const std::string& dir, int& n_models) {
    const std::string path = sweep_file(dir);
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        BP_THROW("--resume " << dir << ": not a directory (a sweep's checkpoint is the directory --checkpoint named)");
    require_file(path, "--resume");
    std::ifstream in(path);
    json j;
    try {
        j = json::parse(in);
    } catch (const json::exception& e) {
        BP_THROW(path << ": a damaged sweep checkpoint (" << e.what() << ")");
    }
    if (!j.is_object() || j.value("format", 0) != kFormat || !j.contains("settings") || !j["settings"].is_object() ||
        !j.contains("data") || !j["data"].is_object() || !j.contains("models") || !j["models"].is_number_integer())
        BP_THROW(path << ": a damaged sweep checkpoint, or one of another format (expected format " << kFormat
                      << " with \"settings\", \"data\" and \"models\")");
    Checkpoint c;
    c.path = path;
    c.settings = j["settings"];
    c.data = j["data"];
    n_models = j["models"].get<int>();
    return c;
}

void write_sweep_checkpoint(const std::string& dir, const std::vector<RunSetting>& settings, const json& data,
                            int n_models) {
    json j;
    j["format"] = kFormat;
    json s = json::object();
    for (const RunSetting& r : settings) s[r.flag] = r.get();
    j["settings"] = std::move(s);
    j["data"] = data;
    j["models"] = n_models;
    write_text_file(sweep_file(dir), j.dump(1) + "\n", "--checkpoint");
}

json row_record(const SweepRow& r) {
    return json{{"run", r.id},
                {"status", to_string(r.status)},
                {"epochs_done", r.epochs_done},
                {"best_epoch", r.best_epoch},
                {"best_correct", r.best_correct},
                {"evaluated", r.eval_total},
                {"best_cost", r.best_cost},
                {"seconds", r.seconds},
                {"failed_epoch", r.failed_epoch},
                {"early_stopped", r.early_stopped}};
}

void restore_row(SweepRow& r, const json& rec, const std::string& path) {
    try {
        const json& j = rec.at("sweep");
        if (j.at("run").get<int>() != r.id) BP_THROW(path << ": holds run " << j.at("run") << ", not run " << r.id);
        const std::string status = j.at("status").get<std::string>();
        for (SweepStatus s : {SweepStatus::pending, SweepStatus::done, SweepStatus::stopped, SweepStatus::diverged,
                              SweepStatus::failed})
            if (status == to_string(s)) r.status = s;
        r.epochs_done = j.at("epochs_done").get<int>();
        r.best_epoch = j.at("best_epoch").get<int>();
        r.best_correct = j.at("best_correct").get<long long>();
        r.eval_total = j.at("evaluated").get<long long>();
        r.best_cost = j.at("best_cost").get<double>();
        r.seconds = j.at("seconds").get<double>();
        r.failed_epoch = j.at("failed_epoch").get<int>();
        r.early_stopped = j.at("early_stopped").get<bool>();
    } catch (const json::exception& e) {
        BP_THROW(path << ": a damaged sweep checkpoint: its \"sweep\" record (" << e.what() << ")");
    }
}

void make_output_dir(const std::string& dir, const std::string& flag, bool create) {
    if (dir.empty()) BP_THROW(flag << ": empty directory name");
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0) {
        if (!S_ISDIR(st.st_mode)) BP_THROW(flag << " " << dir << ": is a file, not a directory");
        if (::access(dir.c_str(), W_OK | X_OK) != 0)
            BP_THROW(flag << " " << dir << ": cannot write into it (" << std::strerror(errno) << ")");
        return;
    }
    // Missing: its parent must take a new directory (check_output_path's rules, for the folder).
    std::string d = dir;
    while (d.size() > 1 && d.back() == '/') d.pop_back();
    if (!create) return check_output_path(d, flag);
    if (::mkdir(dir.c_str(), 0777) != 0)
        BP_THROW(flag << " " << dir << ": cannot create the directory (" << std::strerror(errno) << ")");
}

void write_text_file(const std::string& path, const std::string& text, const std::string& flag) {
    const std::string tmp = path + ".tmp" + std::to_string(::getpid());
    std::FILE* f = std::fopen(tmp.c_str(), "w");
    if (!f) BP_THROW(flag << " " << path << ": cannot create (" << std::strerror(errno) << ")");
    const bool written = std::fwrite(text.data(), 1, text.size(), f) == text.size();
    const bool closed = std::fclose(f) == 0;
    if (!written || !closed || std::rename(tmp.c_str(), path.c_str()) != 0) {
        const int err = errno;
        std::remove(tmp.c_str());
        BP_THROW(flag << " " << path << ": write failed (" << std::strerror(err) << ")");
    }
}

}  // namespace batchprop::cli
