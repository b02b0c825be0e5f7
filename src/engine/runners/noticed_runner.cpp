// with_notice (runner.hpp): a runner that says what was decided for it when the run starts.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/runners/runner.hpp"

namespace batchprop {

namespace {

template <class T>
class NoticedRunner final : public Runner<T> {
public:
    NoticedRunner(std::unique_ptr<Runner<T>> runner, std::vector<std::string> notices)
        : runner_(std::move(runner)), notices_(std::move(notices)) {}

    Launch launch() const override { return runner_->launch(); }
    int segment_steps() const override { return runner_->segment_steps(); }
    void run_segment(const Segment& s, const TrainCallbacks& cb) override {
        if (cb.on_notice)
            for (const std::string& n : notices_) cb.on_notice(n);
        notices_.clear();
        runner_->run_segment(s, cb);
    }
    bool stop_requested(const TrainCallbacks& cb) override { return runner_->stop_requested(cb); }
    void check_replicas(int epochs_done) override { runner_->check_replicas(epochs_done); }
    BatchSlice evaluation_share(int n) const override { return runner_->evaluation_share(n); }
    void add_up(EvalSums& sums) override { runner_->add_up(sums); }
    double allreduce_seconds() const override { return runner_->allreduce_seconds(); }
    double allreduce_wait_seconds() const override { return runner_->allreduce_wait_seconds(); }

private:
    std::unique_ptr<Runner<T>> runner_;
    std::vector<std::string> notices_;  // said at the first segment, then cleared
};

}  // namespace

template <class T>
std::unique_ptr<Runner<T>> with_notice(std::unique_ptr<Runner<T>> runner, const std::vector<std::string>& notices) {
    std::vector<std::string> said;
    for (const std::string& n : notices)
        if (!n.empty()) said.push_back(n);
    if (said.empty()) return runner;
    return std::make_unique<NoticedRunner<T>>(std::move(runner), std::move(said));
}

template std::unique_ptr<Runner<float>> with_notice(std::unique_ptr<Runner<float>>, const std::vector<std::string>&);
template std::unique_ptr<Runner<double>> with_notice(std::unique_ptr<Runner<double>>, const std::vector<std::string>&);

}  // namespace batchprop
