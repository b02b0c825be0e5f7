// The cluster step's host driver (cluster_host.hpp): N threads, one per emulated block, of which
// exactly one runs at any time; the turn passes at each cluster barrier, in rank order.
#include "fused/cluster_host.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

#include "batchprop/check.hpp"

namespace batchprop {

namespace {

// The turns: round after round, each block runs from one cluster barrier to the next, in order.
class Turns {
public:
    Turns(int n, bool reverse) : n_(n), reverse_(reverse), turn_(first()) {}

    void start(int rank) {
        std::unique_lock<std::mutex> lock(mutex_);
        wait_for(lock, rank);
    }
    // A cluster barrier: the next block in order runs; after the last, the first again.
    void barrier(int rank) {
        std::unique_lock<std::mutex> lock(mutex_);
        if (++arrived_ == n_) {
            arrived_ = 0;
            turn_ = first();
        } else {
            turn_ = next(rank);
        }
        cv_.notify_all();
        wait_for(lock, rank);
    }
    // The end of the program: the next block in order finishes its part.
    void finish(int rank) {
        const std::lock_guard<std::mutex> lock(mutex_);
        turn_ = next(rank);
        cv_.notify_all();
    }

private:
    int first() const { return reverse_ ? n_ - 1 : 0; }
    int next(int rank) const { return reverse_ ? rank - 1 : rank + 1; }
    void wait_for(std::unique_lock<std::mutex>& lock, int rank) {
        // Every block meets the same barriers; one that waits this long waits for a block that
        // skipped one: a bug in the program, which would hang a GPU too.
        if (!cv_.wait_for(lock, std::chrono::seconds(120), [&] { return turn_ == rank; })) {
            std::fprintf(stderr, "cluster_train_steps_host: block %d waited 120 s at a cluster barrier\n", rank);
            std::abort();
        }
    }

    std::mutex mutex_;
    std::condition_variable cv_;
    const int n_;
    const bool reverse_;
    int turn_;
    int arrived_ = 0;
};

template <class T>
struct Block {
    std::unique_ptr<unsigned char[]> shared;  // the plan's shared memory
    std::vector<fused::ClusterTile<T>> tiles;  // one per thread: the registers of its lanes
};

struct Copy {
    void* dst;
    const void* src;
    std::size_t bytes;
};

template <class T>
struct Cluster {
    std::vector<Block<T>> blocks;
    Turns turns;
    bool reverse;
};

// A warp's 32 lanes, held at once.
template <class T>
struct HostLanes {
    static constexpr int kWidth = kClusterLanes;
    fused::ClusterTile<T>* tiles;  // the warp's
    Cluster<T>* cluster;

    int lane(int q) const { return q; }
    fused::ClusterTile<T>& tile(int q) const { return tiles[q]; }
    bool first(int q) const { return q == 0; }
    // The warp's butterfly: offsets 16, 8, 4, 2, 1, lane c adding lane c ^ offset's value.
    T sum(const T (&v)[kWidth]) const {
        T a[kWidth];
        for (int c = 0; c < kWidth; ++c) a[c] = v[c];
        for (int off = kWidth / 2; off >= 1; off /= 2) {
            T b[kWidth];
            for (int c = 0; c < kWidth; ++c) b[c] = a[c] + a[c ^ off];
            for (int c = 0; c < kWidth; ++c) a[c] = b[c];
        }
        return a[0];
    }
    void to_all(long long offset, T v, int q) const {
        if (q != 0) return;  // the warp's value is the same on every lane: stored once per block
        for (Block<T>& b : cluster->blocks) reinterpret_cast<T*>(b.shared.get())[offset] = v;
    }
};

template <class T>
class HostBlockExec {
public:
    HostBlockExec(Cluster<T>& cluster, int rank) : cluster_(cluster), rank_(rank) {}

    int rank() const { return rank_; }
    T* shared() const { return reinterpret_cast<T*>(cluster_.blocks[std::size_t(rank_)].shared.get()); }

    template <class F>
    void items(int count, F&& f) const {
        if (cluster_.reverse)
            for (int t = count - 1; t >= 0; --t) f(t);
        else
            for (int t = 0; t < count; ++t) f(t);
    }
    void barrier() const {}

    template <class F>
    void warps(int count, F&& f) const {
        fused::ClusterTile<T>* tiles = cluster_.blocks[std::size_t(rank_)].tiles.data();
        for (int i = 0; i < count; ++i) {
            const int g = cluster_.reverse ? count - 1 - i : i;
            HostLanes<T> lanes{tiles + std::size_t(g) * kClusterLanes, &cluster_};
            f(g, lanes);
        }
    }

    template <class F>
    void fetch(int count, unsigned /*expect*/, F&& f) {
        items(count, f);
    }
    void copy_async(void* dst, const void* src, std::size_t bytes) {
        if (cluster_.reverse) pending_.push_back({dst, src, bytes});
        else std::memcpy(dst, src, bytes);
    }
    void fetch_wait(int /*parity*/) {
        for (const Copy& c : pending_) std::memcpy(c.dst, c.src, c.bytes);
        pending_.clear();
    }
    void cluster_barrier() const { cluster_.turns.barrier(rank_); }

private:
    Cluster<T>& cluster_;
    int rank_;
    std::vector<Copy> pending_;  // bulk copies not landed yet
};

}  // namespace

template <class T, class S>
void cluster_train_steps_host(const ClusterShape& shape, const fused::Args<T, S>& args, bool reverse) {
    BP_REQUIRE(shape.N >= 1 && shape.N <= kClusterMaxSize, "cluster step on the host: N = " << shape.N);
    Cluster<T> cluster{std::vector<Block<T>>(std::size_t(shape.N)), Turns(shape.N, reverse), reverse};
    for (Block<T>& b : cluster.blocks) {
        const std::size_t bytes = std::size_t(shape.shared_bytes);
        b.shared.reset(new unsigned char[bytes]);
        std::memset(b.shared.get(), 0xff, bytes);  // NaN as float and double, -1 as int
        b.tiles.resize(std::size_t(kClusterThreads));
        for (fused::ClusterTile<T>& tile : b.tiles)
            for (auto& row : tile.w)
                for (T& w : row) w = std::numeric_limits<T>::quiet_NaN();  // registers never loaded
    }
    const int first = *args.cursor + args.offset;
    std::vector<std::thread> threads;
    for (int rank = 0; rank < shape.N; ++rank)
        threads.emplace_back([&, rank] {
            cluster.turns.start(rank);
            HostBlockExec<T> exec(cluster, rank);
            fused::run_cluster_steps(shape, args, first, args.steps, exec);
            cluster.turns.finish(rank);
        });
    for (std::thread& t : threads) t.join();
}

template void cluster_train_steps_host(const ClusterShape&, const fused::Args<float, std::uint8_t>&, bool);
template void cluster_train_steps_host(const ClusterShape&, const fused::Args<double, std::uint8_t>&, bool);
template void cluster_train_steps_host(const ClusterShape&, const fused::Args<float, float>&, bool);
template void cluster_train_steps_host(const ClusterShape&, const fused::Args<double, float>&, bool);

}  // namespace batchprop
