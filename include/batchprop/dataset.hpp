/// @file
/// Labelled image data on the host, and the IDX (MNIST-format) reader. Images are stored as
/// one column per example: (n_inputs x n) column-major. Files give bytes 0..255, kept as bytes;
/// they become inputs x = k/255 in the scalar type only when a batch is gathered
/// (pixel_to_input, math.hpp): a quarter of the memory of floats, and exact in double. Images
/// can also be borrowed from the caller (borrow_images: a numpy array, say), as bytes or as
/// float inputs used as they are, without a copy.
#pragma once

#include "batchprop/export.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace batchprop {

/// What a data set's images are: bytes 0..255 (an input is k/255, computed in the scalar type) or
/// float inputs used as they are.
enum class PixelType { u8, f32 };

/// Bytes per image element of a PixelType.
inline std::size_t pixel_size(PixelType t) { return t == PixelType::f32 ? sizeof(float) : sizeof(std::uint8_t); }

namespace detail {
struct DatasetAccess;  ///< dataset.cpp: borrow_images and slice set the borrowed images
}

struct BATCHPROP_API Dataset {
    int n_inputs = 0;          ///< pixels per image (rows * cols for IDX images)
    int n = 0;                 ///< number of examples
    /// Owned images, (n_inputs x n), column j = example j, values 0..255: what the readers
    /// fill. Empty when the images are borrowed; read images through image_data().
    std::vector<std::uint8_t> pixels;
    std::vector<int> labels;   ///< n class labels (empty: images to predict)
    std::string source;        ///< where it came from, for messages
    std::string labels_source; ///< where the labels came from, when not `source` (IDX label files)

    PixelType pixel_type() const { return borrowed_ ? borrowed_type_ : PixelType::u8; }
    /// The images, (n_inputs x n) of pixel_type(): pixels.data(), or the borrowed pointer.
    const void* image_data() const { return borrowed_ ? borrowed_data_ : pixels.data(); }
    /// Whether the images are owned by the caller (borrow_images) rather than by `pixels`.
    bool borrowed() const { return borrowed_; }
    /// What keeps borrowed images alive (null for owned ones): a user of image_data() that may
    /// outlive this Dataset holds a copy.
    const std::shared_ptr<const void>& keepalive() const { return keepalive_; }

    /// Examples [first, first + count) as a new data set. Borrowed images are not copied: the
    /// slice points into them and shares the keepalive.
    Dataset slice(int first, int count) const;
    int max_label() const;  ///< -1 when empty

private:
    friend struct detail::DatasetAccess;
    bool borrowed_ = false;
    const void* borrowed_data_ = nullptr;  ///< (n_inputs x n) of borrowed_type_, the caller's
    PixelType borrowed_type_ = PixelType::u8;
    std::shared_ptr<const void> keepalive_;
};

/// Images the caller owns, used in place (no copy): (n_inputs x n) column-major, i.e. example j at
/// data + j*n_inputs. `keepalive` is held by the Dataset (and its slices and copies) for as long as
/// the images are used. labels: n classes >= 0, or empty (images to predict). Checks sizes; the f32
/// overload checks that every value is finite (one read-only pass) and names the first bad one.
BATCHPROP_API Dataset borrow_images(int n_inputs, int n, const std::uint8_t* pixels, std::shared_ptr<const void> keepalive,
                                    std::vector<int> labels, std::string source = "memory");
BATCHPROP_API Dataset borrow_images(int n_inputs, int n, const float* inputs, std::shared_ptr<const void> keepalive,
                                    std::vector<int> labels, std::string source = "memory");

/// An IDX file as read: dimensions and raw unsigned bytes (the only element type MNIST uses).
struct IdxArray {
    std::vector<std::uint32_t> dims;
    std::vector<std::uint8_t> values;
};

/// The bytes of a file, gunzipped when the content starts with the gzip magic (the file name
/// does not matter). Errors name the file.
BATCHPROP_API std::vector<std::uint8_t> read_file_bytes(const std::string& path);

/// bytes, gunzipped when they start with the gzip magic, else unchanged. `what` names the
/// source in error messages. (read_file_bytes without the file: the fuzz targets use it.)
BATCHPROP_API std::vector<std::uint8_t> gunzip_if_gzip(std::vector<std::uint8_t> bytes, const std::string& what);

/// Parses IDX bytes (type 0x08, unsigned byte). `what` names the source in error messages.
BATCHPROP_API IdxArray parse_idx(const std::vector<std::uint8_t>& bytes, const std::string& what);

/// An images array (3 dimensions: n x rows x cols) as a data set with no labels yet. The
/// pixel bytes are moved, not copied.
BATCHPROP_API Dataset images_from_idx(IdxArray images, const std::string& what);

/// Reads an images file (3 dimensions: n x rows x cols) and a labels file (1 dimension: n) and
/// checks that they agree.
BATCHPROP_API Dataset load_idx(const std::string& images_path, const std::string& labels_path);

/// Reads an images file alone (`batchprop predict`): labels stays empty.
BATCHPROP_API Dataset load_idx_images(const std::string& images_path);

/// What a data file holds, told from its first bytes (gunzipped when gzip): IDX images, IDX
/// labels, CSV text ("label,1x1,..." or numbers), or none of those. For messages about a file of
/// the wrong kind.
enum class DataFileKind { unknown, idx_images, idx_labels, csv };
BATCHPROP_API DataFileKind sniff_data_file(const std::string& path);

/// The standard MNIST file names inside a directory, each with or without ".gz".
struct IdxFiles {
    std::string train_images, train_labels, test_images, test_labels;
};
BATCHPROP_API IdxFiles find_idx_files(const std::string& dir);

/// Where Debian's dataset-fashion-mnist package puts Fashion-MNIST.
inline const char* default_data_dir() { return "/usr/share/datasets/fashion-mnist"; }

}  // namespace batchprop
