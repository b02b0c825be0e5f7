/// @file
/// How an epoch's mini-batches are grouped into segments: runs of consecutive steps that the
/// trainer executes as one unit, and that a GPU records once as a CUDA graph and replays. Pure
/// logic, no device: every decision about *what* a replay computes (which examples, the
/// partial last batch, where a stop may fall) lives here, where CPU tests reach it.
#pragma once

#include "batchprop/export.hpp"

#include <vector>

#include "batchprop/settings.hpp"  // Mode

namespace batchprop {

/// Segments of the same kind have the same shapes (steps and m), so one recording serves
/// them all: a step reads its examples through a cursor in device memory, not through
/// arguments fixed at recording time.
enum class SegmentKind {
    full,     ///< segment_steps full mini-batches of m examples
    tail,     ///< the remaining full mini-batches, fewer than segment_steps
    partial,  ///< the last mini-batch when m does not divide n: one step of n mod m examples
};
constexpr int kSegmentKinds = 3;

struct Segment {
    SegmentKind kind;
    int first;  ///< position in the epoch's order of its first example
    int steps;  ///< mini-batches
    int m;      ///< examples per mini-batch
    int examples() const { return steps * m; }
};

/// The segments of one epoch of n examples in mini-batches of m, segment_steps steps per full
/// segment: floor(n/m) full batches cut into full segments, then a tail, then the partial batch, each present
/// only when non-empty. They cover 0..n-1 once, in order. Throws on n < 1, m < 1, m > n or
/// segment_steps < 1.
BATCHPROP_API std::vector<Segment> plan_epoch(int n, int m, int segment_steps);

/// Steps per full segment when replaying recordings: enough that one replay replaces a few thousand
/// kernel launches (the point of a graph), few enough that progress and Ctrl-C still come
/// several times per epoch (one replay is the unit of both) and that instantiating the graph
/// stays quick. n_layers is the number of weight layers L.
BATCHPROP_API int recorded_segment_steps(int m, Mode mode, int n_layers);

/// What to do with a segment whose kind has been met `seen` times before in this run:
/// recordings are made from the second meeting on, because the first, run directly, warms up
/// what a recording must not do itself (cuBLAS's choices, lazy module loading, workspaces).
enum class SegmentAction { run, record_then_replay, replay };
BATCHPROP_API SegmentAction segment_action(bool recording_enabled, int seen, bool have_recording);

}  // namespace batchprop
