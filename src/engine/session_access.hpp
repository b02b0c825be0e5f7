// What the library itself, not its users, does with a Session: a session over a backend made
// elsewhere (the tests' doubles), and data put on a device once for many sessions (a sweep's
// models on one GPU read one copy of the images: less memory, and the copy stays in the L2
// cache that every model's steps read it through). Internal.
#pragma once

#include <memory>

#include "batchprop/backend.hpp"
#include "batchprop/batchprop.hpp"

namespace batchprop {

// Data sets on a device for every session of one dtype there (SessionAccess::share_data).
struct SharedData {
    virtual ~SharedData() = default;
    const Dataset* train = nullptr;  // the host data sets they are copies of
    const Dataset* eval = nullptr;   // may be null
};

struct SessionAccess {
    // A session of `net` and `cost` computing on `backend`.
    template <class T>
    static Session over(std::unique_ptr<Backend<T>> backend, const Network<double>& net, Cost cost);

    // `train` and `eval` (may be null) on where.device, for sessions of where.dtype there, with
    // a backend of their own (so they outlive any one session). Null where the device computes
    // in host memory: the CPU reads a Dataset in place, there is nothing to share. The data
    // sets must outlive the result.
    static std::shared_ptr<SharedData> put_on_device(const SessionOptions& where, const Dataset& train,
                                                     const Dataset* eval);
    // From now on s.train() given the very data sets `data` holds uses its copies instead of
    // making its own (null: its own again). Not while s trains.
    static void share_data(Session& s, std::shared_ptr<const SharedData> data);
};

}  // namespace batchprop
