// Loads a model (network2.py's JSON format) and predicts the class of each image of an IDX
// file; with a labels file, also reports the accuracy.
//   predict_idx MODEL.json IMAGES.idx[.gz] [LABELS.idx[.gz]]
#include <batchprop/batchprop.hpp>

#include <cstdio>
#include <vector>

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: predict_idx MODEL.json IMAGES [LABELS]\n");
        return 2;
    }
    try {
        batchprop::Session net = batchprop::Session::load(argv[1], {"cpu", batchprop::DType::f32});
        const batchprop::Dataset images =
            argc > 3 ? batchprop::load_idx(argv[2], argv[3]) : batchprop::load_idx_images(argv[2]);
        const std::vector<int> predicted = net.predict(images);
        std::printf("first predictions:");
        for (int j = 0; j < images.n && j < 10; ++j) std::printf(" %d", predicted[std::size_t(j)]);
        std::printf("\n");
        if (!images.labels.empty()) {
            const batchprop::Evaluation e = net.evaluate(images);
            std::printf("accuracy %lld / %lld (%.2f%%)\n", e.correct, e.total, 100.0 * e.accuracy());
        }
    } catch (const batchprop::Error& e) {
        std::fprintf(stderr, "predict_idx: %s\n", e.what());
        return 1;
    }
}
