// The gradient all-reduce alone, as the trainer calls it (Communicator::allreduce_sum, in place,
// sum), on P ranks under mpirun: the transfer's cost without the wait for a slower rank that
// the CLI's all-reduce figure also contains (every repetition starts after a barrier-like
// host all-reduce). Not a Google Benchmark suite: it needs every rank in step.
//
//   mpirun -n 2 build/bench/bench_allreduce [N floats = 1863690] [reps = 20] [cpu|cuda]
//
// N defaults to the parameters of [784,1024,1024,10]. With cuda, each rank uses
// cuda:<local rank mod GPUs> and NCCL on the backend's stream (timed with a synchronize).
// Prints, on rank 0: the median and best time and the bus bandwidth 2(P-1)/P * bytes / t, the
// figure NCCL's own tests report (what each link carries in a ring all-reduce).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "batchprop/backend.hpp"
#include "batchprop/distributed.hpp"

using namespace batchprop;

int main(int argc, char** argv) {
    const std::size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1863690;
    const int reps = argc > 2 ? std::atoi(argv[2]) : 20;
    const std::string device = argc > 3 ? argv[3] : "cpu";
    try {
        std::unique_ptr<Communicator> mpi = make_mpi_communicator();
        std::unique_ptr<Backend<float>> be;
        std::unique_ptr<Communicator> nccl;
        Communicator* comm = mpi.get();
        if (device == "cuda") {
            const GpuStatus& g = gpu_status();
            if (!g.usable) throw Error("no usable GPU: " + g.reason);
            be = make_backend<float>(DeviceSpec{DeviceSpec::Want::cuda, mpi->local_rank() % g.count});
            nccl = make_nccl_communicator(*mpi, *be);
            comm = nccl.get();
        } else {
            be = make_cpu_backend<float>();
        }
        Buffer<float> buf(*be, n);
        buf.upload(std::vector<float>(n, 1.0f));
        std::vector<double> times;
        for (int r = 0; r < reps + 2; ++r) {
            std::uint64_t sync = 0;
            mpi->allreduce_host(&sync, 1, ReduceOp::max);  // everyone starts together
            const auto t0 = std::chrono::steady_clock::now();
            comm->allreduce_sum(buf.data(), n, *be);
            be->synchronize();
            const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            if (r >= 2) times.push_back(s);  // two warm-ups
        }
        // The slowest rank's time per repetition is the collective's time.
        mpi->allreduce_host(times.data(), times.size(), ReduceOp::max);
        std::sort(times.begin(), times.end());
        const double med = times[times.size() / 2], best = times.front();
        const double bytes = double(n) * sizeof(float), p = comm->size();
        if (mpi->rank() == 0)
            std::printf("all-reduce of %zu floats (%.2f MB) on %d ranks (%s, %s): median %.2f ms, best %.2f ms, "
                        "bus bandwidth %.2f GB/s\n",
                        n, bytes / 1e6, comm->size(), comm->name().c_str(), be->name().c_str(), 1e3 * med, 1e3 * best,
                        2.0 * (p - 1) / p * bytes / med / 1e9);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_allreduce: error: %s\n", e.what());
        return 1;
    }
    return 0;
}
