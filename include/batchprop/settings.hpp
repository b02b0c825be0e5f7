/// @file
/// The settings of a training run, in one place: the choices (enums) and their one table of
/// spellings, the device to compute on, the training configuration, its validation, and the
/// two scalars of the SGD update derived from it. A front end (the CLI, the Python module)
/// reads its words into these types once; a bad value comes back as a SettingError, which
/// names the setting so that each front end can say it in its own words (a flag, a keyword).
#pragma once

#include "batchprop/export.hpp"

#include <cstdint>
#include <string>
#include <vector>

#include "batchprop/check.hpp"

namespace batchprop {

// ---- the choices -----------------------------------------------------------------------------

enum class Cost : int { quadratic = 0, cross_entropy = 1 };  ///< the formulas: math.hpp

enum class Mode {
    per_example,  ///< the book's update_mini_batch: one column at a time, nabla accumulated
    matrix,       ///< the whole mini-batch X = [x_1 ... x_m] as one matrix
};

/// gaussian: w, b ~ N(0, 1) (network.py); scaled: w ~ N(0, 1/n_in), b ~ N(0, 1) (network2.py).
enum class Init { gaussian, scaled };

/// How the steps of an epoch reach the device. On the CPU every choice runs each call as it
/// is made (eager): there is nothing to launch.
enum class Launch {
    automatic,  ///< fused where the network and batch suit it (fused_step_preferred), else graph
    fused,      ///< each segment of steps in one kernel of one block (the fused step); matrix
                ///< mode in one process only
    graph,      ///< record segments of steps once (CUDA graphs) and replay them; eager if a
                ///< recording fails
    eager,      ///< every primitive call issued one by one, every step
};

enum class DType { f32, f64 };  ///< the scalar type of the arithmetic

/// Which n the L2 term of an evaluation's cost divides by: the training set's (the default) or,
/// as network2.py's total_cost(data, lmbda) does, the evaluated set's len(data).
enum class L2Scale { training_set, evaluated_set };

// ---- settings, and errors that name them ---------------------------------------------------

enum class Setting { sizes, epochs, first_epoch, batch, eta, lambda, cost, mode, init, launch, dtype, device, seed,
                     segment_steps };
/// The library's word for a setting: "eta", "batch", "segment_steps" (TrainConfig's fields).
BATCHPROP_API const char* setting_name(Setting setting);

/// How a front end spells a setting: the CLI's "--eta", Python's "eta" (or "lmbda").
using SettingSpeller = std::string (*)(Setting);

/// A setting with a bad value, or settings that contradict each other or the data. The message
/// is the setting's name, then `subject` (the value at fault, when there is one) after a space,
/// then `detail`, in which "{name}" stands for another setting's name ("{lambda}"). what()
/// spells the settings as setting_name does; message(spell) as a front end does.
class BATCHPROP_API SettingError : public Error {
public:
    SettingError(Setting setting, std::string subject, std::string detail);
    Setting setting() const { return setting_; }
    const std::string& subject() const { return subject_; }
    /// detail with every "{name}" spelled by spell.
    std::string detail(const SettingSpeller& spell) const;
    std::string message(const SettingSpeller& spell) const;

private:
    Setting setting_;
    std::string subject_, detail_;
};

/// A valid setting that this machine cannot honour (--device cuda without a usable GPU, a fused
/// step on a device that has none): a failure to report, not a mistake in the settings.
class BATCHPROP_API SettingUnavailable : public SettingError {
public:
    using SettingError::SettingError;
};

// ---- the spellings: one table per choice -------------------------------------------------------
/// to_string prints a value, parse<E> reads one back (SettingError naming the setting, the
/// allowed words and the nearest one), names<E> lists them in order.
BATCHPROP_API const char* to_string(Cost value);     ///< "quadratic", "cross-entropy"
BATCHPROP_API const char* to_string(Mode value);     ///< "per-example", "matrix"
BATCHPROP_API const char* to_string(Init value);     ///< "gaussian", "scaled"
BATCHPROP_API const char* to_string(Launch value);   ///< "auto", "fused", "graph", "eager"
BATCHPROP_API const char* to_string(DType value);    ///< "f32", "f64"
template <class E>
BATCHPROP_API E parse(const std::string& text);
template <class E>
BATCHPROP_API const std::vector<std::string>& names();

/// The word of `candidates` nearest to `word` (a prefix of it, or a few edits away), or "" when
/// none is close: what a "did you mean" suggests.
BATCHPROP_API std::string nearest_word(const std::string& word, const std::vector<std::string>& candidates);

/// The earlier names of the same table, kept for existing callers.
inline const char* launch_name(Launch launch) { return to_string(launch); }
inline Launch parse_launch(const std::string& text) { return parse<Launch>(text); }
inline const char* dtype_name(DType dtype) { return to_string(dtype); }
inline DType parse_dtype(const std::string& text) { return parse<DType>(text); }

// ---- the device --------------------------------------------------------------------------------

/// Where to compute: "auto" (a usable GPU, else the CPU), "cpu", "cuda" or "cuda:N". Made from
/// its text once (the constructor parses it, or throws SettingError) and carried as it is.
struct BATCHPROP_API DeviceSpec {
    enum class Want { automatic, cpu, cuda } want = Want::automatic;
    int index = -1;      ///< N of cuda:N; -1 when not named: GPU local_rank mod the GPUs present
    int local_rank = 0;  ///< this process's rank on its machine (data-parallel runs: one GPU each)

    DeviceSpec() = default;
    DeviceSpec(Want w, int i = -1) : want(w), index(i) {}
    DeviceSpec(const std::string& text);  ///< NOLINT: implicit, so options.device = "cpu" reads as written
    DeviceSpec(const char* text) : DeviceSpec(std::string(text)) {}  ///< NOLINT
};
BATCHPROP_API std::string to_string(const DeviceSpec& device);  ///< its text: "cuda:1"
inline DeviceSpec parse_device(const std::string& text) { return DeviceSpec(text); }

// ---- the training configuration ----------------------------------------------------------------

struct TrainConfig {
    int epochs = 5;  ///< the run trains epochs first_epoch .. epochs - 1 (0-based)
    /// Epochs already done (resuming a run): epoch e's shuffle depends only on (seed, e), so
    /// continuing at first_epoch from the parameters after that many epochs gives, bit for bit,
    /// the parameters of a run that never stopped.
    int first_epoch = 0;
    int batch = 10;  ///< m
    double eta = 3.0;
    double lambda = 0.0;
    Cost cost = Cost::quadratic;
    Mode mode = Mode::matrix;
    bool shuffle = true;
    std::uint64_t seed = 1;
    bool monitor_training = false;   ///< also evaluate on the training set after each epoch
    bool monitor_evaluation = true;  ///< evaluate on the evaluation set after each epoch
    Launch launch = Launch::automatic;
    /// Steps per segment (epoch_plan.hpp); 0 chooses: recorded_segment_steps when recording or
    /// fused, else 1 (progress and the stop flag after every mini-batch).
    int segment_steps = 0;
    L2Scale l2_scale = L2Scale::training_set;  ///< the n of the reported cost's (lambda / 2n) sum w^2
};

/// Throws SettingError for a configuration no run can use (epochs < 1, eta <= 0, ...): the
/// checks that need no data. A front end calls it once its words are read.
BATCHPROP_API void validate(const TrainConfig& config);
/// The same, and against a training set of n_train examples (batch <= n_train, and
/// eta lambda / n_train < 1). What the library checks where training starts.
BATCHPROP_API void validate(const TrainConfig& config, int n_train);

/// The SGD update of every path (per-example, matrix, fused, data-parallel), as two scalars:
///   w <- decay w + alpha nabla_w,   b <- b + alpha nabla_b,
///   alpha = -eta / m,   decay = 1 - eta lambda / n
/// for a mini-batch of m examples from a training set of n. In double; each path converts
/// them to its T.
struct SgdScalars {
    double alpha = 0.0;
    double decay = 1.0;
};
BATCHPROP_API SgdScalars sgd_scalars(double eta, double lambda, long long n_train, int m);

}  // namespace batchprop
