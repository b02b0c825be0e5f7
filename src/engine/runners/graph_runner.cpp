// Launch::graph: each kind of segment (epoch_plan.hpp) recorded once as a CUDA graph and
// replayed ever after; eager again, with a notice, if a recording fails.
#include <memory>
#include <string>

#include "engine/runners/eager_runner.hpp"

namespace batchprop {

namespace {

template <class T>
class GraphRunner final : public EagerRunner<T> {
public:
    using EagerRunner<T>::EagerRunner;

    Launch launch() const override { return recording_ ? Launch::graph : Launch::eager; }
    int segment_steps() const override {
        return recorded_segment_steps(this->st_.cfg.batch, this->st_.cfg.mode, this->st_.bp.layout().n_layers());
    }

    void run_segment(const Segment& s, const TrainCallbacks& cb) override {
        Slot& slot = slots_[int(s.kind)];
        const SegmentAction action = segment_action(recording_, slot.seen, slot.recording != nullptr);
        ++slot.seen;
        if (action == SegmentAction::record_then_replay) {
            try {
                // The body reads every position from the cursor, so this recording is valid for
                // every later segment of the same kind, wherever it falls in whichever epoch.
                slot.recording = this->st_.be.record([this, s] { this->run_steps(s); });
            } catch (const RecordingFailed& e) {
                recording_ = false;
                if (cb.on_notice)
                    cb.on_notice(std::string("recording the training steps as a CUDA graph failed (") + e.what() +
                                 "); running them one call at a time");
            }
        }
        if (slot.recording) {
            slot.recording->replay();
            // Progress and the stop flag are per replay: waiting here keeps the host at most one
            // replay ahead of the device, so both are honest. One wait per few thousand kernels.
            this->st_.be.synchronize();
        } else {
            this->run_steps(s);
        }
    }

private:
    struct Slot {
        int seen = 0;                          // segments of this kind met so far in the run
        std::unique_ptr<Recording> recording;  // made at the second meeting
    };
    Slot slots_[kSegmentKinds];
    bool recording_ = true;  // false once a recording has failed: eager from then on
};

}  // namespace

template <class T>
std::unique_ptr<Runner<T>> make_graph_runner(TrainerState<T>& state) {
    return std::make_unique<GraphRunner<T>>(state);
}

template std::unique_ptr<Runner<float>> make_graph_runner(TrainerState<float>&);
template std::unique_ptr<Runner<double>> make_graph_runner(TrainerState<double>&);

}  // namespace batchprop
