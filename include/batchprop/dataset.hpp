// Labelled image data on the host, and the IDX (MNIST-format) reader. Images are stored as
// one column per example, pixels as the bytes 0..255 the files hold: (n_inputs x n)
// column-major. They become inputs x = k/255 in the scalar type only when a batch is gathered
// (pixel_to_input, math.hpp): a quarter of the memory of floats, and exact in double.
#pragma once

#include "batchprop/export.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace batchprop {

struct BATCHPROP_API Dataset {
    int n_inputs = 0;          // pixels per image (rows * cols for IDX images)
    int n = 0;                 // number of examples
    std::vector<std::uint8_t> pixels;  // (n_inputs x n), column j = example j, values 0..255
    std::vector<int> labels;   // n class labels
    std::string source;        // where it came from, for messages
    std::string labels_source; // where the labels came from, when not `source` (IDX label files)

    // Examples [first, first + count) as a new data set.
    Dataset slice(int first, int count) const;
    int max_label() const;  // -1 when empty
};

// An IDX file as read: dimensions and raw unsigned bytes (the only element type MNIST uses).
struct IdxArray {
    std::vector<std::uint32_t> dims;
    std::vector<std::uint8_t> values;
};

// The bytes of a file, gunzipped when the content starts with the gzip magic (the file name
// does not matter). Errors name the file.
BATCHPROP_API std::vector<std::uint8_t> read_file_bytes(const std::string& path);

// bytes, gunzipped when they start with the gzip magic, else unchanged. `what` names the
// source in error messages. (read_file_bytes without the file: the fuzz targets use it.)
BATCHPROP_API std::vector<std::uint8_t> gunzip_if_gzip(std::vector<std::uint8_t> bytes, const std::string& what);

// Parses IDX bytes (type 0x08, unsigned byte). `what` names the source in error messages.
BATCHPROP_API IdxArray parse_idx(const std::vector<std::uint8_t>& bytes, const std::string& what);

// An images array (3 dimensions: n x rows x cols) as a data set with no labels yet. The
// pixel bytes are moved, not copied.
BATCHPROP_API Dataset images_from_idx(IdxArray images, const std::string& what);

// Reads an images file (3 dimensions: n x rows x cols) and a labels file (1 dimension: n) and
// checks that they agree.
BATCHPROP_API Dataset load_idx(const std::string& images_path, const std::string& labels_path);

// Reads an images file alone (`batchprop predict`): labels stays empty.
BATCHPROP_API Dataset load_idx_images(const std::string& images_path);

// The standard MNIST file names inside a directory, each with or without ".gz".
struct IdxFiles {
    std::string train_images, train_labels, test_images, test_labels;
};
BATCHPROP_API IdxFiles find_idx_files(const std::string& dir);

// Where Debian's dataset-fashion-mnist package puts Fashion-MNIST.
inline const char* default_data_dir() { return "/usr/share/datasets/fashion-mnist"; }

}  // namespace batchprop
