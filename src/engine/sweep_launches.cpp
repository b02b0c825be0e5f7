// A sweep's shared launches (sweep_pool.hpp): which models may share one, and a group of them
// trained together, a thread and a seat each (src/fused/shared_launch.hpp).
#include <memory>
#include <thread>
#include <vector>

#include "cpu/blas_threads.hpp"
#include "engine/runners/runner.hpp"
#include "engine/sweep_pool.hpp"
#include "fused/fused_device.hpp"

namespace batchprop {

namespace {

// The fused step of the device `s` computes on, or null (Session::memory is the backend).
template <class T>
FusedDevice<T>* fused_of(Session& s) {
    return dynamic_cast<FusedDevice<T>*>(&s.memory());
}

template <class T>
LaunchSupport launch_support(SweepPool& pool) {
    LaunchSupport support;
    const Dataset& train = pool.train_data();
    const std::vector<SweepModel>& models = pool.models();
    FusedDevice<T>* const first = fused_of<T>(pool.session(0));
    if (!first || first->fused_shared_limit() == 0) return support;
    // Where the device computes in host memory (the tests' double), the models of a launch also
    // run their BLAS calls at once: only with one BLAS thread per caller, as a worker pool.
    if (pool.session(0).memory().is_host_memory() && !blas_one_thread_per_caller()) return support;
    support.shares = true;
    support.models_per_launch = first->fused_parallel_blocks();
    for (const SweepModel& m : models) {
        Session& s = pool.session(m.id);
        FusedDevice<T>* const device = fused_of<T>(s);
        bool fusable = false;
        try {
            const LaunchChoice c = choose_launch(device, s.memory().can_record(), ParamLayout(m.sizes), train.n,
                                                 train.pixel_type(), m.config);
            fusable = c.launch == Launch::fused && c.cluster.N == 0;
        } catch (const Error&) {
            // The model's own trainer will say what is wrong, in its row.
        }
        support.fusable.push_back(fusable);
    }
    return support;
}

template <class T>
void run_shared_launch(SweepPool& pool, const std::vector<int>& ids) {
    const int k = int(ids.size());
    SharedLaunch<T> share(k);
    std::vector<FusedDevice<T>*> devices;
    for (int seat = 0; seat < k; ++seat) {
        devices.push_back(fused_of<T>(pool.session(ids[std::size_t(seat)])));
        BP_REQUIRE(devices.back(), "run_sweep: a model of a shared launch has no fused step");
    }
    // Seated for this group only, whatever happens: a session handed back must launch alone.
    struct Seating {
        std::vector<FusedDevice<T>*>& devices;
        ~Seating() {
            for (FusedDevice<T>* d : devices) d->share_launches(nullptr, 0);
        }
    } seating{devices};
    for (int seat = 0; seat < k; ++seat) devices[std::size_t(seat)]->share_launches(&share, seat);
    std::vector<std::thread> threads;
    int started = 0;
    try {
        for (; started < k; ++started) {
            threads.emplace_back([&pool, &share, &ids, started] {
                const SharedSeat<T> seat(&share, started);  // left however the model ends
                if (!pool.stopping()) pool.train_one(ids[std::size_t(started)]);
            });
        }
    } catch (...) {  // no thread for the rest: they leave at once, the others stop soon
        for (int seat = started; seat < k; ++seat) share.leave(seat);
        pool.stop_all();
    }
    for (std::thread& t : threads) t.join();
}

}  // namespace

LaunchSupport launch_support(SweepPool& pool, DType dtype) {
    return dtype == DType::f64 ? launch_support<double>(pool) : launch_support<float>(pool);
}

void run_shared_launch(SweepPool& pool, DType dtype, const std::vector<int>& ids) {
    if (ids.empty()) return;
    if (dtype == DType::f64) run_shared_launch<double>(pool, ids);
    else run_shared_launch<float>(pool, ids);
}

}  // namespace batchprop
