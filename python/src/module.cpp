// batchprop._core: the compiled half of the Python module. A thin layer over the public C++
// API (batchprop.hpp): numpy arrays become Datasets without a copy where their layout allows,
// training runs with the GIL released, and every batchprop::Error becomes batchprop.Error.
// The book's API (Network, SGD, ...) is written in Python on top of this (batchprop/network2.py).
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "batchprop/batchprop.hpp"
#include "batchprop/sweep.hpp"

namespace py = pybind11;
using namespace batchprop;

namespace {

// ---- data ----------------------------------------------------------------------------------

// A numpy array held for as long as a Dataset borrows its memory. The last reference may be
// dropped on a thread without the GIL (a Dataset freed after training), so the deleter takes it.
std::shared_ptr<const void> hold(const py::array& array) {
    auto* ref = new py::object(array);
    return std::shared_ptr<const void>(ref, [](const void* p) {
        py::gil_scoped_acquire gil;
        delete static_cast<const py::object*>(p);
    });
}

std::vector<int> labels_from(const py::object& labels, int n, const std::string& source) {
    std::vector<int> out;
    if (labels.is_none()) return out;
    // Any integer array; int32 is what the C++ side holds (a copy: n ints, 1/784 of the images).
    auto arr = py::array_t<int, py::array::c_style | py::array::forcecast>::ensure(labels);
    if (!arr) throw py::type_error(source + ": labels must be an array of integers");
    if (arr.ndim() != 1 || arr.shape(0) != n)
        throw py::value_error(source + ": " + std::to_string(n) + " images need " + std::to_string(n) +
                              " labels, got an array of shape " + py::str(labels.attr("shape")).cast<std::string>());
    out.assign(arr.data(), arr.data() + n);
    return out;
}

// Images (n, n_inputs), C order: row j is example j, which is batchprop's column-major
// (n_inputs x n) layout as it stands, so uint8 and float32 arrays are used in place.
Dataset dataset_from(const py::array& images, const py::object& labels, const std::string& source) {
    if (images.ndim() != 2)
        throw py::value_error(source + ": images must be a 2-d array (examples, pixels), got " +
                              std::to_string(images.ndim()) + " dimensions");
    if (!(images.flags() & py::array::c_style))
        throw py::value_error(source + ": images must be C-contiguous (the caller copies others)");
    const int n = int(images.shape(0)), n_inputs = int(images.shape(1));
    std::vector<int> y = labels_from(labels, n, source);
    if (images.dtype().is(py::dtype::of<std::uint8_t>()))
        return borrow_images(n_inputs, n, static_cast<const std::uint8_t*>(images.data()), hold(images), std::move(y),
                             source);
    if (images.dtype().is(py::dtype::of<float>()))
        return borrow_images(n_inputs, n, static_cast<const float*>(images.data()), hold(images), std::move(y), source);
    throw py::type_error(source + ": images must be uint8 or float32 here (the caller converts others)");
}

// An IDX images file and its labels as numpy arrays that own the loaded bytes (no copy).
py::tuple load_idx_arrays(const std::string& images_path, const std::string& labels_path) {
    auto d = std::make_unique<Dataset>(load_idx(images_path, labels_path));
    Dataset* raw = d.get();
    py::capsule owner(d.release(), [](void* p) { delete static_cast<Dataset*>(p); });
    py::array images(py::dtype::of<std::uint8_t>(), {py::ssize_t(raw->n), py::ssize_t(raw->n_inputs)},
                     {py::ssize_t(raw->n_inputs), py::ssize_t(1)}, raw->pixels.data(), owner);
    py::array labels(py::dtype::of<int>(), {py::ssize_t(raw->n)}, {py::ssize_t(sizeof(int))}, raw->labels.data(),
                     owner);
    return py::make_tuple(images, labels);
}

// ---- settings: the library's config, in Python's words ---------------------------------------

// How the book's API names a setting (network2.py's SGD arguments), for the library's messages.
std::string python_word(Setting s) {
    switch (s) {
        case Setting::batch: return "mini_batch_size";
        case Setting::lambda: return "lmbda";
        case Setting::first_epoch: return "the epochs trained before";
        default: return setting_name(s);
    }
}

// ---- errors ----------------------------------------------------------------------------------

// Raises `type` with the library's message. Messages are UTF-8, but one may quote bytes that
// are not (a file name given as bytes); decoded strictly, such a message would leave the
// exception empty, so each undecodable byte becomes \xNN, as Python's backslashreplace writes it.
void raise_with(PyObject* type, const std::string& message) {
    PyObject* text = PyUnicode_DecodeUTF8(message.data(), py::ssize_t(message.size()), "backslashreplace");
    if (!text) return;  // only when out of memory: that error stands
    PyErr_SetObject(type, text);
    Py_DECREF(text);
}

SessionOptions options_from(const std::string& device, const std::string& dtype) {
    return SessionOptions{DeviceSpec(device), parse<DType>(dtype)};
}

py::object evaluation_tuple(const std::optional<Evaluation>& e) {
    if (!e) return py::none();
    return py::make_tuple(e->correct, e->total, e->cost);
}

// ---- training with the GIL released ----------------------------------------------------------

// Runs Session::train without the GIL. Python is re-entered only to call back and, at most
// every 50 ms, to let a pending signal run its handler: Ctrl-C then raises KeyboardInterrupt
// there, the trainer stops after the current mini-batch (segment on a GPU), and the session
// keeps the parameters it reached. An exception in a callback stops training the same way and
// is raised once train returns.
int train(Session& s, const Dataset& train_data, const Dataset* eval_data, TrainConfig cfg,
          const py::object& on_epoch, const py::object& progress) {
    cfg.monitor_evaluation = cfg.monitor_evaluation && eval_data;

    std::atomic<bool> stop{false};
    std::optional<py::error_already_set> raised;  // created and destroyed with the GIL held
    using clock = std::chrono::steady_clock;
    clock::time_point last_poll = clock::now();
    const auto poll_every = std::chrono::milliseconds(50);

    TrainCallbacks cb;
    cb.stop = &stop;
    cb.on_batch = [&](const BatchProgress& p) {
        const clock::time_point now = clock::now();
        const bool epoch_end = p.examples_done == p.examples_total;
        if (now - last_poll < poll_every && !epoch_end) return;
        last_poll = now;
        py::gil_scoped_acquire gil;
        if (raised) return;
        try {
            if (PyErr_CheckSignals() != 0) throw py::error_already_set();
            if (!progress.is_none()) progress(p.epoch, p.examples_done, p.examples_total);
        } catch (py::error_already_set& e) {
            raised.emplace(std::move(e));
            stop = true;
        }
    };
    cb.on_epoch = [&](const EpochResult& r) -> bool {
        py::gil_scoped_acquire gil;
        if (raised) return false;
        try {
            if (PyErr_CheckSignals() != 0) throw py::error_already_set();
            if (on_epoch.is_none()) return true;
            py::dict d;
            d["epoch"] = r.epoch;
            d["train_seconds"] = r.train_seconds;
            d["examples"] = r.examples;
            d["examples_per_second"] = r.examples_per_second;
            d["evaluation"] = evaluation_tuple(r.evaluation);
            d["training"] = evaluation_tuple(r.training);
            return on_epoch(d).cast<bool>();
        } catch (py::error_already_set& e) {
            raised.emplace(std::move(e));
            return false;
        }
    };
    int last = 0;
    {
        py::gil_scoped_release nogil;
        last = s.train(train_data, eval_data, cfg, cb);
    }
    if (raised) {
        raised->restore();
        raised.reset();
        throw py::error_already_set();
    }
    return last;
}

// ---- many networks at once (sweep.hpp) ------------------------------------------------------------

// One dict per model of a finished sweep (sweep() below): its settings, its outcome, its
// epochs' evaluations, and its trained session.
py::list sweep_records(const std::vector<SweepModel>& models, std::vector<SweepOutcome>& out,
                       const std::vector<std::vector<EpochResult>>& results) {
    py::list records;
    for (std::size_t i = 0; i < models.size(); ++i) {
        const SweepModel& m = models[i];
        SweepOutcome& o = out[i];
        py::dict d;
        d["run"] = m.id;
        d["sizes"] = m.sizes;
        d["eta"] = m.config.eta;
        d["lmbda"] = m.config.lambda;
        d["mini_batch_size"] = m.config.batch;
        d["seed"] = m.config.seed;
        d["status"] = to_string(o.status);
        d["error"] = o.error;
        d["epochs"] = o.epochs_done;
        d["seconds"] = o.seconds;
        py::list epochs;
        for (const EpochResult& r : results[i])
            epochs.append(py::dict(py::arg("epoch") = r.epoch, py::arg("examples") = r.examples,
                                   py::arg("evaluation") = evaluation_tuple(r.evaluation),
                                   py::arg("training") = evaluation_tuple(r.training)));
        d["results"] = epochs;
        d["session"] = o.session ? py::cast(std::move(*o.session)) : py::none();
        records.append(d);
    }
    return records;
}

// Runs run_sweep without the GIL over the grid's product (each axis a list; `config` the settings
// every model shares). Per model, a dict: its settings, "status", "error", "epochs" (whole epochs
// done), "seconds", "results" (per epoch: "examples", "evaluation" and "training" as
// evaluation_tuple) and "session" (the trained network; None if it never started), in run-id
// order. Python is entered as train() enters it: at most every 50 ms to let a signal run its
// handler (Ctrl-C stops every model after its current mini-batch and raises KeyboardInterrupt)
// and call progress(models_done, models, epochs_done, epochs).
py::tuple sweep(const Dataset& train_data, const Dataset* eval_data, const std::vector<std::vector<int>>& sizes,
                const std::vector<double>& eta, const std::vector<double>& lambda, const std::vector<int>& batch,
                const std::vector<std::uint64_t>& seeds, TrainConfig config, const std::string& cost,
                const std::string& init, const std::string& device, const std::string& dtype, int jobs,
                const py::object& progress) {
    config.monitor_evaluation = config.monitor_evaluation && eval_data;
    config.cost = parse<Cost>(cost);
    const std::vector<SweepModel> models = expand_grid(SweepGrid{sizes, eta, lambda, batch, seeds}, config, parse<Init>(init));
    validate_sweep(models, train_data.n);
    std::vector<std::vector<EpochResult>> results(models.size());
    std::atomic<bool> stop{false};
    std::optional<py::error_already_set> raised;  // created and destroyed with the GIL held
    int models_done = 0;
    long long epochs_done = 0, epochs_total = 0;
    for (const SweepModel& m : models) epochs_total += m.config.epochs - m.config.first_epoch;
    using clock = std::chrono::steady_clock;
    clock::time_point last_poll = clock::now();
    std::string notice;
    SweepCallbacks cb;  // run_sweep calls these one at a time: no locking of our own
    cb.stop = &stop;
    cb.on_notice = [&](const std::string& why) { notice = why; };
    cb.on_epoch = [&](const SweepModel& m, const EpochResult& r, const Session&) {
        results[std::size_t(m.id)].push_back(r);
        if (r.examples == train_data.n) ++epochs_done;
        return true;
    };
    cb.on_model_end = [&](const SweepModel&, const SweepOutcome&) { ++models_done; };
    cb.on_batch = [&](const SweepModel&, const BatchProgress&) {
        const clock::time_point now = clock::now();
        if (now - last_poll < std::chrono::milliseconds(50)) return;
        last_poll = now;
        py::gil_scoped_acquire gil;
        if (raised) return;
        try {
            if (PyErr_CheckSignals() != 0) throw py::error_already_set();
            if (!progress.is_none()) progress(models_done, models.size(), epochs_done, epochs_total);
        } catch (py::error_already_set& e) {
            raised.emplace(std::move(e));
            stop = true;
        }
    };
    SweepOptions options;
    options.where = options_from(device, dtype);
    options.jobs = jobs;
    std::vector<SweepOutcome> out;
    {
        py::gil_scoped_release nogil;
        out = run_sweep(train_data, eval_data, models, options, cb);
    }
    if (raised) {
        raised->restore();
        raised.reset();
        throw py::error_already_set();
    }
    return py::make_tuple(sweep_records(models, out, results), notice);
}

// ---- parameters as numpy arrays ----------------------------------------------------------------

// w^l as (n_l, n_{l-1}) and b^l as (n_l, 1), float64, as network2.py holds them.
py::tuple parameters(const Session& s) {
    const Network<double> net = s.network();
    py::list ws, bs;
    for (int l = 1; l <= net.n_layers(); ++l) {
        const ConstView<double> w = net.w(l);
        py::array_t<double> wa({py::ssize_t(w.rows), py::ssize_t(w.cols)});
        auto wm = wa.mutable_unchecked<2>();
        for (int i = 0; i < w.rows; ++i)
            for (int j = 0; j < w.cols; ++j) wm(i, j) = w.data[i + std::size_t(j) * std::size_t(w.ld)];  // column-major
        py::array_t<double> ba({py::ssize_t(w.rows), py::ssize_t(1)});
        std::memcpy(ba.mutable_data(), net.b(l), sizeof(double) * std::size_t(w.rows));
        ws.append(wa);
        bs.append(ba);
    }
    return py::make_tuple(ws, bs);
}

void set_parameters(Session& s, const py::sequence& weights, const py::sequence& biases) {
    Network<double> net(s.sizes());
    const int L = net.n_layers();
    if (py::len(weights) != std::size_t(L) || py::len(biases) != std::size_t(L))
        throw py::value_error("a network of sizes " + sizes_to_string(s.sizes()) + " has " + std::to_string(L) +
                              " weight matrices and bias vectors; got " + std::to_string(py::len(weights)) + " and " +
                              std::to_string(py::len(biases)));
    for (int l = 1; l <= L; ++l) {
        auto w = py::array_t<double, py::array::forcecast>::ensure(weights[std::size_t(l - 1)]);
        auto b = py::array_t<double, py::array::forcecast>::ensure(biases[std::size_t(l - 1)]);
        const py::ssize_t rows = net.layout().n(l), cols = net.layout().n(l - 1);
        if (!w || w.ndim() != 2 || w.shape(0) != rows || w.shape(1) != cols)
            throw py::value_error("weights[" + std::to_string(l - 1) + "] must have shape (" + std::to_string(rows) +
                                  ", " + std::to_string(cols) + ")");
        if (!b || b.size() != rows || (b.ndim() == 2 && b.shape(1) != 1) || b.ndim() > 2)
            throw py::value_error("biases[" + std::to_string(l - 1) + "] must have shape (" + std::to_string(rows) +
                                  ", 1)");
        auto wr = w.unchecked<2>();
        MatrixView<double> wv = net.w(l);
        for (py::ssize_t i = 0; i < rows; ++i)
            for (py::ssize_t j = 0; j < cols; ++j) {
                if (!std::isfinite(wr(i, j)))
                    throw py::value_error("weights[" + std::to_string(l - 1) + "] holds a value that is not finite");
                wv.data[i + j * wv.ld] = wr(i, j);
            }
        // b as n_l contiguous numbers, whether it came as (n_l, 1) or (n_l,).
        const auto bc = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(b);
        const double* bp = bc.data();
        for (py::ssize_t i = 0; i < rows; ++i) {
            if (!std::isfinite(bp[i]))
                throw py::value_error("biases[" + std::to_string(l - 1) + "] holds a value that is not finite");
            net.b(l)[i] = bp[i];
        }
    }
    s.set_network(net);
}

}  // namespace

PYBIND11_MODULE(_core, m) {
    m.doc() = "batchprop's compiled core; use the batchprop package (its Network class) instead.";
    m.attr("__version__") = BATCHPROP_VERSION_STRING;

    static py::exception<Error> error(m, "Error", PyExc_ValueError);
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const SettingError& e) {
            raise_with(error.ptr(), e.message(python_word));  // the settings in the book's names
        } catch (const Error& e) {
            raise_with(error.ptr(), e.what());
        }
    });

    py::class_<Dataset>(m, "Data", "Images (and labels) as batchprop reads them; numpy arrays are borrowed, not copied.")
        .def(py::init(&dataset_from), py::arg("images"), py::arg("labels") = py::none(), py::arg("source") = "memory")
        .def_readonly("n", &Dataset::n)
        .def_readonly("n_inputs", &Dataset::n_inputs)
        .def_readonly("source", &Dataset::source)
        .def_property_readonly("pixel_type",
                               [](const Dataset& d) { return d.pixel_type() == PixelType::u8 ? "uint8" : "float32"; })
        .def_property_readonly("borrowed", &Dataset::borrowed)
        .def_property_readonly("address", [](const Dataset& d) { return reinterpret_cast<std::uintptr_t>(d.image_data()); })
        .def_property_readonly("has_labels", [](const Dataset& d) { return !d.labels.empty(); })
        .def("__repr__", [](const Dataset& d) {
            // Not a constructor call (the images are not in it): what the data is, in brackets.
            return "<batchprop.Data " + py::repr(py::str(d.source)).cast<std::string>() + ": " + std::to_string(d.n) +
                   " examples of " + std::to_string(d.n_inputs) + " " +
                   (d.pixel_type() == PixelType::u8 ? "uint8 pixels (inputs k/255)" : "float32 inputs") +
                   (d.labels.empty() ? ", no labels" : ", labelled") +
                   (d.borrowed() ? ", borrowed from a numpy array>" : ", held by batchprop>");
        });

    m.def(
        "find_idx_files",
        [](const std::string& dir) {
            const IdxFiles f = find_idx_files(dir);
            py::dict d;
            d["train_images"] = f.train_images;
            d["train_labels"] = f.train_labels;
            d["test_images"] = f.test_images;
            d["test_labels"] = f.test_labels;
            return d;
        },
        py::arg("dir"), "The four MNIST-format IDX files inside a directory (each with or without .gz).");
    m.def("default_data_dir", &default_data_dir, "Where Debian's dataset-fashion-mnist puts Fashion-MNIST.");
    m.def("load_idx", &load_idx_arrays, py::arg("images"), py::arg("labels"),
          "An IDX images file and its labels file (gzipped or not) as (X uint8 (n, pixels), y int32 (n,)).");

    // The library's TrainConfig, its choices read and written as their words (settings.hpp);
    // a bad word or value is the library's SettingError, in the book's names.
    py::class_<TrainConfig>(m, "TrainConfig", "batchprop::TrainConfig: the settings of one SGD call.")
        .def(py::init<>())
        .def_readwrite("epochs", &TrainConfig::epochs)
        .def_readwrite("first_epoch", &TrainConfig::first_epoch)
        .def_readwrite("batch", &TrainConfig::batch)
        .def_readwrite("eta", &TrainConfig::eta)
        .def_readwrite("lmbda", &TrainConfig::lambda)
        .def_readwrite("shuffle", &TrainConfig::shuffle)
        .def_readwrite("seed", &TrainConfig::seed)
        .def_readwrite("monitor_training", &TrainConfig::monitor_training)
        .def_readwrite("monitor_evaluation", &TrainConfig::monitor_evaluation)
        .def_property(
            "mode", [](const TrainConfig& c) { return to_string(c.mode); },
            [](TrainConfig& c, const std::string& w) { c.mode = parse<Mode>(w); })
        .def_property(
            "launch", [](const TrainConfig& c) { return to_string(c.launch); },
            [](TrainConfig& c, const std::string& w) { c.launch = parse<Launch>(w); })
        .def_property(
            "l2_over_evaluated_set", [](const TrainConfig& c) { return c.l2_scale == L2Scale::evaluated_set; },
            [](TrainConfig& c, bool v) { c.l2_scale = v ? L2Scale::evaluated_set : L2Scale::training_set; });
    m.def("validate", [](const TrainConfig& c, int n_train) { validate(c, n_train); }, py::arg("config"),
          py::arg("n_train"), "The library's checks of a TrainConfig against a training set of n_train examples.");
    m.def("sweep", &sweep, py::arg("train_data"), py::arg("eval_data"), py::arg("sizes"), py::arg("eta"),
          py::arg("lmbda"), py::arg("batch"), py::arg("seeds"), py::arg("config"), py::arg("cost"), py::arg("init"),
          py::arg("device"), py::arg("dtype"), py::arg("jobs"), py::arg("progress"),
          "run_sweep over the grid's product (sweep.hpp): (one dict per model, a notice or '').");

    py::class_<Session>(m, "Session", "A network on a device (batchprop::Session).")
        .def(py::init([](const std::vector<int>& sizes, const std::string& cost, const std::string& init,
                         std::uint64_t seed, const std::string& device, const std::string& dtype) {
                 return Session::create(sizes, parse<Cost>(cost), parse<Init>(init), seed, options_from(device, dtype));
             }),
             py::arg("sizes"), py::arg("cost"), py::arg("init"), py::arg("seed"), py::arg("device"), py::arg("dtype"))
        .def_static(
            "load",
            [](const std::string& path, const std::string& device, const std::string& dtype) {
                return Session::load(path, options_from(device, dtype));
            },
            py::arg("path"), py::arg("device"), py::arg("dtype"))
        .def_property_readonly("sizes", &Session::sizes)
        .def_property(
            "cost", [](const Session& s) { return to_string(s.cost()); },
            [](Session& s, const std::string& c) { s.set_cost(parse<Cost>(c)); })
        .def_property_readonly("dtype", [](const Session& s) { return to_string(s.dtype()); })
        .def_property_readonly("device", &Session::device)
        .def_property_readonly("device_notice", &Session::device_notice)
        .def("train", &train, py::arg("train_data"), py::arg("eval_data"), py::arg("config"), py::arg("on_epoch"),
             py::arg("progress"))
        .def(
            "evaluate",
            [](Session& s, const Dataset& d) {
                Evaluation e;
                {
                    py::gil_scoped_release nogil;
                    e = s.evaluate(d);
                }
                return py::make_tuple(e.correct, e.total, e.cost);
            },
            py::arg("data"))
        .def(
            "predict",
            [](Session& s, const Dataset& d) {
                std::vector<int> p;
                {
                    py::gil_scoped_release nogil;
                    p = s.predict(d);
                }
                return py::array_t<int>(py::ssize_t(p.size()), p.data());
            },
            py::arg("data"))
        .def(
            "outputs",
            [](Session& s, const Dataset& d) {
                std::vector<double> a;
                {
                    py::gil_scoped_release nogil;
                    a = s.outputs(d);
                }
                // (n_L x n) column-major is (n, n_L) in C order.
                py::array_t<double> out({py::ssize_t(d.n), py::ssize_t(s.sizes().back())});
                std::memcpy(out.mutable_data(), a.data(), a.size() * sizeof(double));
                return out;
            },
            py::arg("data"))
        .def("parameters", &parameters)
        .def("set_parameters", &set_parameters, py::arg("weights"), py::arg("biases"))
        .def(
            "initialise",
            [](Session& s, const std::string& how, std::uint64_t seed) {
                Network<double> net(s.sizes());
                net.init(parse<Init>(how), seed);
                s.set_network(net);
            },
            py::arg("how"), py::arg("seed"))
        .def(
            "save",
            [](const Session& s, const std::string& path, const std::string& record) {
                // The record (how the model was trained: the CLI's --init-model reads it) comes
                // as JSON text that network2.py made with json.dumps.
                s.save(path, record.empty() ? nlohmann::json(nullptr) : nlohmann::json::parse(record));
            },
            py::arg("path"), py::arg("record") = "");
}
