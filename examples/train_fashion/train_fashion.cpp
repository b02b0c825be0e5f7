// Trains [784,30,10] on Fashion-MNIST with batchprop's library API and saves the model.
//   train_fashion [--data DIR] [--epochs N] [--train-limit N] [--device D] [--dtype f32|f64] [--save FILE]
#include <batchprop/batchprop.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

int main(int argc, char** argv) {
    std::string data = "/usr/share/datasets/fashion-mnist", save = "fashion.json", device = "auto", dtype = "f32";
    int epochs = 5, limit = 50000;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string flag = argv[i], value = argv[i + 1];
        if (flag == "--data") data = value;
        else if (flag == "--epochs") epochs = std::atoi(value.c_str());
        else if (flag == "--train-limit") limit = std::atoi(value.c_str());
        else if (flag == "--device") device = value;
        else if (flag == "--dtype") dtype = value;
        else if (flag == "--save") save = value;
        else { std::fprintf(stderr, "unknown option %s\n", flag.c_str()); return 2; }
    }
    try {
        const batchprop::IdxFiles f = batchprop::find_idx_files(data);
        batchprop::Dataset train = batchprop::load_idx(f.train_images, f.train_labels);
        if (train.n > limit) train = train.slice(0, limit);
        const batchprop::Dataset test = batchprop::load_idx(f.test_images, f.test_labels);

        batchprop::Session net = batchprop::Session::create({784, 30, 10}, batchprop::Cost::cross_entropy,
                                                            batchprop::Init::scaled, /*seed=*/1,
                                                            {device, batchprop::parse_dtype(dtype)});
        std::printf("batchprop %s, %s, %s\n", BATCHPROP_VERSION_STRING, net.device().c_str(),
                    batchprop::to_string(net.dtype()));
        batchprop::TrainConfig cfg;
        cfg.epochs = epochs;
        cfg.eta = 0.5;
        batchprop::TrainCallbacks cb;
        cb.on_epoch = [](const batchprop::EpochResult& r) {
            std::printf("epoch %d: test accuracy %.2f%%, %.0f examples/s\n", r.epoch,
                        100.0 * r.evaluation->accuracy(), r.examples_per_second);
            return true;
        };
        net.train(train, &test, cfg, cb);
        net.save(save);
        std::printf("saved %s\n", save.c_str());
    } catch (const batchprop::Error& e) {
        std::fprintf(stderr, "train_fashion: %s\n", e.what());
        return 1;
    }
}
