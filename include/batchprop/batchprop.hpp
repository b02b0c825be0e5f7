/// @file
/// batchprop's API in one header: load data, make or load a network, train it with callbacks,
/// evaluate, predict and save, on the CPU or a GPU, in float or double chosen at run time.
///
/// @code
///   #include <cstdio>
///   #include <batchprop/batchprop.hpp>
///
///   batchprop::Dataset train = batchprop::load_idx("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz");
///   batchprop::Dataset test  = batchprop::load_idx("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz");
///   batchprop::Session net = batchprop::Session::create({784, 30, 10});   // N(0,1) init, seed 1
///   batchprop::TrainConfig cfg;                      // the book's defaults: m = 10, eta = 3.0
///   cfg.epochs = 5;
///   batchprop::TrainCallbacks cb;
///   cb.on_epoch = [](const batchprop::EpochResult& r) {
///       std::printf("epoch %d: %.2f%%\n", r.epoch, 100 * r.evaluation->accuracy());  // set: &test given
///       return true;                                 // false stops training
///   };
///   net.train(train, &test, cfg, cb);
///   net.save("net.json");                            // network2.py's format
///   std::vector<int> labels = batchprop::Session::load("net.json").predict(test);
/// @endcode
///
/// Every failure throws batchprop::Error (check.hpp) with a one-line message.
/// The lower layers stay available for finer control: Network (network.hpp), Backend
/// (backend.hpp), Backprop (backprop.hpp), Trainer (trainer.hpp).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "batchprop/check.hpp"
#include "batchprop/csv.hpp"
#include "batchprop/dataset.hpp"
#include "batchprop/export.hpp"
#include "batchprop/model_io.hpp"
#include "batchprop/network.hpp"
#include "batchprop/settings.hpp"
#include "batchprop/trainer.hpp"
#include "batchprop/version.hpp"

namespace batchprop {

class Communicator;  ///< distributed.hpp
class Memory;        ///< backend.hpp

/// Where and in what type a Session computes (settings.hpp: DeviceSpec, DType).
struct SessionOptions {
    DeviceSpec device;  ///< "auto" (a usable GPU, else the CPU), "cpu", "cuda", "cuda:N"
    DType dtype = DType::f32;  ///< the scalar type of parameters and arithmetic: float (default) or double
};

/// Images and labels already in memory as a data set: pixels are bytes 0..255, one column of
/// n_inputs per example (pixel i of example j at pixels[i + j * n_inputs]); labels are the
/// classes, 0 .. n_outputs-1 (empty for images to predict). Checks the sizes agree. The pixels
/// are moved in; to use the caller's images without a copy, bytes or float inputs, see
/// borrow_images (dataset.hpp).
BATCHPROP_API Dataset make_dataset(int n_inputs, std::vector<std::uint8_t> pixels, std::vector<int> labels,
                                   std::string source = "memory");

/// A network on a device: its parameters, its cost function, and what trains, evaluates and
/// predicts with it. Move-only.
class BATCHPROP_API Session {
public:
    /// A new network of `sizes` (input layer first), initialised from `seed` (network.hpp's Init:
    /// gaussian N(0,1) as in network.py, scaled N(0,1/n_in) as in network2.py).
    static Session create(const std::vector<int>& sizes, Cost cost = Cost::quadratic, Init init = Init::gaussian,
                          std::uint64_t seed = 1, const SessionOptions& options = {});
    /// A network from a model file (network2.py's JSON format, model_io.hpp), or a parsed model.
    /// Its parameters and cost come from the model (converted to options.dtype); the model's
    /// "batchprop" settings are not applied here.
    static Session load(const std::string& path, const SessionOptions& options = {});
    /// The same from a Model already parsed (load_model, parse_model).
    static Session from_model(const Model& model, const SessionOptions& options = {});

    Session(Session&&) noexcept;             ///< takes the other's network and device; it is left unusable
    Session& operator=(Session&&) noexcept;  ///< the same, releasing this session's own
    ~Session();

    const std::vector<int>& sizes() const;  ///< n_0, ..., n_L: neurons per layer, input first
    /// The cost function the session trains with (what train() uses in place of
    /// TrainConfig::cost), evaluates with and saves in the model: create's, or the model's.
    Cost cost() const;
    void set_cost(Cost cost);  ///< the cost trained and evaluated with
    DType dtype() const;       ///< the scalar type it computes in (SessionOptions::dtype)
    std::string device() const;  ///< the backend's name, e.g. "cpu (OpenBLAS)"
    /// Why "auto" runs on the CPU ("no usable GPU (...)"); empty otherwise.
    const std::string& device_notice() const;

    /// Mini-batch SGD on `train`, evaluating on `eval` (may be null) after each epoch as config
    /// asks. config.cost is ignored: the session's cost() is used; config.launch and
    /// callbacks.on_notice work as for a Trainer (on a GPU: fused, CUDA graphs or eager). Trains epochs
    /// config.first_epoch .. config.epochs - 1 (0-based; the shuffle of epoch e depends only on
    /// (seed, e), so a run continued from a saved network gives the same parameters as one
    /// run straight through). Inside the callbacks, network() returns the current parameters.
    /// callbacks.on_start, when set, is called once the trainer is set up. Returns the number of
    /// the last epoch trained (1-based; config.first_epoch when none was). When it throws (a
    /// callback's exception, SGD diverged to infinity or NaN: "training diverged in epoch N"),
    /// the session keeps the network it had before the call.
    int train(const Dataset& train, const Dataset* eval, const TrainConfig& config,
              const TrainCallbacks& callbacks = {});

    /// Data-parallel training (distributed.hpp): from now on train() runs as one rank of comm
    /// (null: alone again), as a Trainer made with comm does (trainer.hpp). Every rank calls train()
    /// with the same arguments, data and starting network; data_fingerprint is the caller's
    /// digest of its data, compared across ranks. comm must outlive the training.
    void set_communicator(Communicator* comm, std::uint64_t data_fingerprint = 0);
    /// The device memory this session computes in (a GPU rank's make_nccl_communicator needs it).
    Memory& memory();
    /// Seconds the running (or the last) train() spent in the gradient all-reduce
    /// (Trainer::allreduce_seconds; 0 without a communicator).
    double allreduce_seconds() const;
    /// The part of allreduce_seconds() that CPU ranks waited for the slowest rank (0 on GPUs,
    /// and without a communicator).
    double allreduce_wait_seconds() const;

    /// Accuracy and mean cost (no regularisation term) over a labelled data set.
    Evaluation evaluate(const Dataset& data);
    /// The most activated output neuron per example (ties: the lowest index).
    std::vector<int> predict(const Dataset& images);
    /// The output activations a^L: (n_L x n) column-major, in double.
    std::vector<double> outputs(const Dataset& images);

    /// The parameters, as double (exact for a float session). Inside a training callback: the
    /// parameters reached so far.
    Network<double> network() const;
    /// Replaces the parameters (converted to the session's dtype). Throws when net's sizes
    /// differ from sizes(), or from a training callback.
    void set_network(const Network<double>& net);
    /// network() and cost() as a Model, ready for save_model or Session::from_model; its
    /// "batchprop" settings are null.
    Model model() const;

    /// Saves the network in network2.py's format, atomically (a failed save changes nothing).
    /// `settings`, when not null, goes under the file's "batchprop" key.
    void save(const std::string& path, const nlohmann::json& settings = nullptr) const;

    struct Impl;

private:
    friend struct SessionAccess;  // the library's own ways in (src/engine/session_access.hpp)
    explicit Session(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace batchprop
