// The plot of a sweep (--plot FILE.svg): the best validation accuracy against eta, one line per
// lambda (and per network and m when those vary too), each point the mean over the setting's
// seeds with a bar from the lowest to the highest. An SVG written as text: no plotting library,
// and any browser shows it.
#pragma once

#include <string>
#include <vector>

#include "sweep_report.hpp"

namespace batchprop::cli {

// The whole SVG document. eta on a log scale when its values span more than a factor of 3.
// Settings no model of which was usable are left out (the title says how many).
std::string sweep_svg(const std::vector<SettingSpread>& spreads, const std::string& title);

}  // namespace batchprop::cli
