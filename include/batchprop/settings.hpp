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

/// The cost function C_x of one example, which fixes BP1's output error delta^L (the formulas:
/// math.hpp's cost_term and output_delta). The values are stable (0, 1): they are stored.
enum class Cost : int {
    quadratic = 0,      ///< C = 1/2 |a - y|^2; delta^L = (a - y) (.) sigma'(z^L) (network.py, chapter 2)
    cross_entropy = 1,  ///< C = -sum [y ln a + (1 - y) ln(1 - a)]; delta^L = a - y (chapter 3)
};

/// How backprop treats a mini-batch: the same code path either way (backprop.hpp), run on
/// one-column views with the gradient accumulated, or on the whole batch at once.
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

/// The scalar type of the arithmetic (parameters, activations, gradients): float or double.
enum class DType {
    f32,  ///< float
    f64,  ///< double
};

/// The arithmetic of the products on a GPU. ieee: in the scalar type itself (cuBLAS's default
/// math), the only choice ever made by itself. tf32: float only, an explicit opt-in for wide
/// networks: cuBLAS's products on tensor cores, their inputs rounded to TF32 (10 mantissa bits,
/// float's range), sums in float; several times the throughput of float products, about 1e-3
/// relative error per product instead of float's 1e-7. The fused steps and the CPU compute as
/// ieee.
enum class Math {
    ieee,  ///< products in the scalar type (the default)
    tf32   ///< float products on tensor cores, inputs rounded to TF32 (float only, opt-in)
};

/// Which n the L2 term of an evaluation's cost divides by: the training set's (the default) or,
/// as network2.py's total_cost(data, lmbda) does, the evaluated set's len(data).
enum class L2Scale { training_set, evaluated_set };

// ---- settings, and errors that name them ---------------------------------------------------

/// The settings a SettingError can name: TrainConfig's fields, and what makes a network
/// (sizes, init, dtype, device). setting_name gives the library's word for each.
enum class Setting { sizes, epochs, first_epoch, batch, eta, lambda, cost, mode, init, launch, dtype, device, seed,
                     segment_steps, math };
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
    /// what() is setting_name(setting), then " " + subject when subject is not empty, then
    /// detail with its "{name}"s spelled as setting_name does. detail starts with its own
    /// separator (": ...", " must be ...").
    SettingError(Setting setting, std::string subject, std::string detail);
    Setting setting() const { return setting_; }                    ///< the setting at fault
    const std::string& subject() const { return subject_; }          ///< the value at fault, or ""
    /// detail with every "{name}" spelled by spell.
    std::string detail(const SettingSpeller& spell) const;
    /// The whole message in a front end's words: spell(setting()), the subject, detail(spell).
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
BATCHPROP_API const char* to_string(Math value);     ///< "ieee", "tf32"
/// The value of E spelled `text` (exactly, as to_string prints it). Throws SettingError naming
/// E's setting, listing the allowed words and suggesting the nearest. E is one of Cost, Mode,
/// Init, Launch, DType, Math.
template <class E>
BATCHPROP_API E parse(const std::string& text);
/// E's words, in the order a user is shown them (for help text and completions).
template <class E>
BATCHPROP_API const std::vector<std::string>& names();

/// The word of `candidates` nearest to `word` (a prefix of it, or a few edits away), or "" when
/// none is close: what a "did you mean" suggests.
BATCHPROP_API std::string nearest_word(const std::string& word, const std::vector<std::string>& candidates);

/// The earlier names of the same table, kept for existing callers: to_string(Launch).
inline const char* launch_name(Launch launch) { return to_string(launch); }
/// Earlier name of parse<Launch>.
inline Launch parse_launch(const std::string& text) { return parse<Launch>(text); }
/// Earlier name of to_string(DType).
inline const char* dtype_name(DType dtype) { return to_string(dtype); }
/// Earlier name of parse<DType>.
inline DType parse_dtype(const std::string& text) { return parse<DType>(text); }

// ---- the device --------------------------------------------------------------------------------

/// Where to compute: "auto" (a usable GPU, else the CPU), "cpu", "cuda" or "cuda:N". Made from
/// its text once (the constructor parses it, or throws SettingError) and carried as it is.
struct BATCHPROP_API DeviceSpec {
    /// The kind of device asked for.
    enum class Want {
        automatic,  ///< "auto": a usable GPU, else the CPU with a notice (make_backend)
        cpu,        ///< "cpu"
        cuda,       ///< "cuda" or "cuda:N": a GPU, or an error when none is usable
    };
    Want want = Want::automatic;  ///< what the text asked for
    int index = -1;      ///< N of cuda:N; -1 when not named: GPU local_rank mod the GPUs present
    int local_rank = 0;  ///< this process's rank on its machine (data-parallel runs: one GPU each)

    DeviceSpec() = default;
    DeviceSpec(Want w, int i = -1) : want(w), index(i) {}  ///< without text: `w`, GPU index `i` (-1: not named)
    DeviceSpec(const std::string& text);  ///< NOLINT: implicit, so options.device = "cpu" reads as written
    DeviceSpec(const char* text) : DeviceSpec(std::string(text)) {}  ///< NOLINT
};
BATCHPROP_API std::string to_string(const DeviceSpec& device);  ///< its text: "cuda:1"
/// DeviceSpec(text), by the name the other choices' parsers have (throws SettingError).
inline DeviceSpec parse_device(const std::string& text) { return DeviceSpec(text); }

// ---- the training configuration ----------------------------------------------------------------

/// How to train: the hyper-parameters of mini-batch SGD (the book's SGD(training_data, epochs,
/// mini_batch_size, eta, lmbda, ...)), what to evaluate after each epoch, and how the steps
/// reach the device. The defaults of m, eta, lambda and the cost are chapter 1's (m = 10,
/// eta = 3.0, no regularisation, quadratic cost). validate() says which values are allowed; Trainer's constructor and
/// Session::train call it against the training set.
struct TrainConfig {
    int epochs = 5;  ///< the run trains epochs first_epoch .. epochs - 1 (0-based); >= 1
    /// Epochs already done (resuming a run): epoch e's shuffle depends only on (seed, e), so
    /// continuing at first_epoch from the parameters after that many epochs gives, bit for bit,
    /// the parameters of a run that never stopped.
    int first_epoch = 0;
    /// m, examples per mini-batch: 1 .. n_train. When m does not divide n, each epoch ends with
    /// one partial batch of n mod m examples (the book's SGD does the same).
    int batch = 10;
    double eta = 3.0;     ///< the learning rate eta: finite, > 0
    /// The L2 regularisation parameter lambda: finite, >= 0. Each step multiplies the weights
    /// (not the biases) by the decay 1 - eta lambda / n, n the training set's size, which must
    /// stay above 0 (sgd_scalars). 0 turns regularisation off.
    double lambda = 0.0;
    /// The cost function C that training minimises and evaluation reports. It selects BP1, the
    /// output layer's error: quadratic gives delta^L = (a^L - y) (.) sigma'(z^L), which is small
    /// when a saturated output neuron is wrong (learning slows down); cross-entropy gives
    /// delta^L = a^L - y, sigma' cancelled (chapter 3's remedy). BP2-BP4 and the update are the
    /// same for both. Read by Trainer; **Session::train ignores it** and uses the session's
    /// cost (Session::cost(), set by create, load or set_cost).
    Cost cost = Cost::quadratic;
    Mode mode = Mode::matrix;  ///< per-example (the book's loop) or matrix (the whole batch at once)
    /// Whether each epoch visits the examples in a new order: the permutation of epoch e is a
    /// function of (seed, e) alone (shuffle_key, math.hpp), the same on every device. false:
    /// the order 0 .. n-1 in every epoch.
    bool shuffle = true;
    /// Seeds the epochs' shuffle only (a network's initial parameters have their own seed:
    /// Session::create, Network::init).
    std::uint64_t seed = 1;
    bool monitor_training = false;   ///< also evaluate on the training set after each epoch
    bool monitor_evaluation = true;  ///< evaluate on the evaluation set after each epoch
    /// How the steps reach the device, as asked (Trainer::launch() says what was chosen:
    /// resolve_launch). No effect on the CPU, which runs every call as it is made.
    Launch launch = Launch::automatic;
    /// Steps per segment (epoch_plan.hpp); 0 chooses: recorded_segment_steps when recording or
    /// fused, else 1 (progress and the stop flag after every mini-batch).
    int segment_steps = 0;
    L2Scale l2_scale = L2Scale::training_set;  ///< the n of the reported cost's (lambda / 2n) sum w^2
    /// The products' arithmetic (Math). tf32 is refused with doubles (SettingError) and with
    /// launch fused, and makes auto choose graph; on the CPU it has no effect (a notice says so).
    Math math = Math::ieee;
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
    double alpha = 0.0;  ///< -eta / m: the step along the summed gradient
    double decay = 1.0;  ///< 1 - eta lambda / n: the weight decay (1 without regularisation)
};
/// The two scalars for learning rate eta, regularisation lambda, a training set of n_train
/// examples and a mini-batch of m (no checks: validate() keeps decay above 0).
BATCHPROP_API SgdScalars sgd_scalars(double eta, double lambda, long long n_train, int m);

}  // namespace batchprop
