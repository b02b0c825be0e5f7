// Launch::eager: every primitive call issued as it is made, one step a segment unless the
// configuration groups them. Also the base of the graph runner (which records what this runs)
// and of the data-parallel one (whose step is its own).
#pragma once

#include "engine/runners/runner.hpp"

namespace batchprop {

template <class T>
class EagerRunner : public Runner<T> {
public:
    explicit EagerRunner(TrainerState<T>& state) : st_(state) {}

    Launch launch() const override { return Launch::eager; }
    int segment_steps() const override { return 1; }  // progress and the stop flag after every batch
    void run_segment(const Segment& s, const TrainCallbacks&) override { run_steps(s); }

protected:
    // The steps of a segment and the cursor's move past them: what a recording holds.
    void run_steps(const Segment& s);
    // One mini-batch of m examples at cursor + offset: gather, then the SGD step.
    virtual void step(int m, int offset);

    TrainerState<T>& st_;
};

}  // namespace batchprop
