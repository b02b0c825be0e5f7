// See early_stop.hpp.
#include "early_stop.hpp"

namespace batchprop::cli {

void EarlyStopper::keep(long long correct, int epoch, const std::function<Network<double>()>& net) {
    s_.best_correct = correct;
    s_.best_epoch = epoch;
    s_.since_best = 0;
    if (keep_best_) s_.best = net();
}

void EarlyStopper::baseline(long long correct, const std::function<Network<double>()>& net) { keep(correct, 0, net); }

bool EarlyStopper::after_epoch(const EpochResult& r, const std::function<Network<double>()>& net) {
    if (!on()) return true;
    if (r.evaluation->correct > s_.best_correct) {
        keep(r.evaluation->correct, r.epoch, net);
        return true;
    }
    return ++s_.since_best < patience_;
}

std::string EarlyStopper::stop_line() const {
    return "Early stop: no better evaluation accuracy for " + std::to_string(patience_) + " epochs; the best was epoch " +
           std::to_string(s_.best_epoch) + (s_.best_epoch == 0 ? " (the starting model)" : "");
}

}  // namespace batchprop::cli
