// The IDX reader (MNIST's format) and data set helpers. Every failure names the file.
#include "batchprop/dataset.hpp"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <utility>
#include <sys/stat.h>

#include "batchprop/check.hpp"

namespace batchprop {

Dataset Dataset::slice(int first, int count) const {
    BP_REQUIRE(first >= 0 && count >= 0 && first + count <= n,
               "slice [" << first << ", " << first + count << ") of " << n << " examples");
    Dataset d;
    d.n_inputs = n_inputs;
    d.n = count;
    d.source = source;
    d.labels_source = labels_source;
    const auto p0 = pixels.begin() + std::ptrdiff_t(first) * n_inputs;
    d.pixels.assign(p0, p0 + std::ptrdiff_t(count) * n_inputs);
    d.labels.assign(labels.begin() + first, labels.begin() + first + count);
    return d;
}

int Dataset::max_label() const {
    return labels.empty() ? -1 : *std::max_element(labels.begin(), labels.end());
}

namespace {

bool is_gzip(const std::vector<std::uint8_t>& b) {
    return b.size() >= 2 && b[0] == 0x1f && b[1] == 0x8b;
}

std::vector<std::uint8_t> gunzip(const std::vector<std::uint8_t>& in, const std::string& path) {
    z_stream zs{};
    // 16 + MAX_WBITS: gzip wrapper only; a raw zlib stream is not what IDX files use.
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) BP_THROW(path << ": cannot initialise zlib");
    std::vector<std::uint8_t> out;
    out.reserve(in.size() * 4);
    zs.next_in = const_cast<Bytef*>(in.data());
    zs.avail_in = uInt(in.size());
    std::uint8_t chunk[1 << 16];
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
        zs.next_out = chunk;
        zs.avail_out = sizeof chunk;
        rc = inflate(&zs, Z_NO_FLUSH);
        if (rc != Z_OK && rc != Z_STREAM_END) {
            const std::string why = zs.msg ? zs.msg : (rc == Z_BUF_ERROR ? "unexpected end of data" : "error");
            inflateEnd(&zs);
            BP_THROW(path << ": corrupt gzip data (" << why << ")");
        }
        out.insert(out.end(), chunk, chunk + (sizeof chunk - zs.avail_out));
        if (rc != Z_STREAM_END && zs.avail_in == 0 && zs.avail_out != 0) {
            inflateEnd(&zs);
            BP_THROW(path << ": truncated gzip data");
        }
        // A 1 GiB ceiling: MNIST-like files are tens of MiB; more is a bomb or a wrong file.
        if (out.size() > (std::size_t(1) << 30)) {
            inflateEnd(&zs);
            BP_THROW(path << ": decompresses to more than 1 GiB; not a data file this tool reads");
        }
    }
    inflateEnd(&zs);
    return out;
}

std::uint32_t be32(const std::uint8_t* p) {
    return std::uint32_t(p[0]) << 24 | std::uint32_t(p[1]) << 16 | std::uint32_t(p[2]) << 8 | p[3];
}

}  // namespace

std::vector<std::uint8_t> read_file_bytes(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) BP_THROW(path << ": " << std::strerror(errno));
    if (S_ISDIR(st.st_mode)) BP_THROW(path << ": is a directory, not a file");
    std::ifstream f(path, std::ios::binary);
    if (!f) BP_THROW(path << ": cannot open (" << std::strerror(errno) << ")");
    std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (f.bad()) BP_THROW(path << ": read error");
    return gunzip_if_gzip(std::move(bytes), path);
}

std::vector<std::uint8_t> gunzip_if_gzip(std::vector<std::uint8_t> bytes, const std::string& what) {
    return is_gzip(bytes) ? gunzip(bytes, what) : bytes;
}

IdxArray parse_idx(const std::vector<std::uint8_t>& b, const std::string& what) {
    // Header: 0x00 0x00 <type> <ndims>, then ndims big-endian uint32 sizes, then the data.
    if (b.size() < 4) BP_THROW(what << ": too short for an IDX header (" << b.size() << " bytes)");
    if (b[0] != 0 || b[1] != 0)
        BP_THROW(what << ": bad IDX magic number (first bytes " << int(b[0]) << " " << int(b[1])
                      << ", expected 0 0): not an IDX file");
    if (b[2] != 0x08)
        BP_THROW(what << ": IDX element type 0x" << std::hex << int(b[2]) << std::dec
                      << " not supported (only unsigned bytes, 0x08, as MNIST uses)");
    const int nd = b[3];
    if (nd < 1 || nd > 3) BP_THROW(what << ": IDX file with " << nd << " dimensions (expected 1 to 3)");
    const std::size_t header = 4 + 4 * std::size_t(nd);
    if (b.size() < header) BP_THROW(what << ": truncated IDX header");
    IdxArray out;
    std::size_t count = 1;
    for (int i = 0; i < nd; ++i) {
        const std::uint32_t d = be32(&b[4 + 4 * std::size_t(i)]);
        if (d == 0) BP_THROW(what << ": IDX dimension " << i << " is zero");
        out.dims.push_back(d);
        count *= d;
        if (count > (std::size_t(1) << 32)) BP_THROW(what << ": IDX dimensions are implausibly large");
    }
    if (b.size() - header < count)
        BP_THROW(what << ": truncated: dimensions promise " << count << " bytes of data, the file has "
                      << b.size() - header);
    if (b.size() - header > count)
        BP_THROW(what << ": " << b.size() - header - count << " unexpected bytes after the IDX data");
    out.values.assign(b.begin() + std::ptrdiff_t(header), b.end());
    return out;
}

Dataset images_from_idx(IdxArray images, const std::string& what) {
    if (images.dims.size() != 3)
        BP_THROW(what << ": an images file has 3 dimensions (count, rows, columns), this one "
                      << images.dims.size());
    if (images.dims[0] > 0x7fffffffu || std::size_t(images.dims[1]) * images.dims[2] > 0x7fffffffu)
        BP_THROW(what << ": too many images or pixels");
    Dataset d;
    d.n = int(images.dims[0]);
    d.n_inputs = int(images.dims[1] * images.dims[2]);
    d.source = what;
    // IDX stores image after image, row-major pixels: exactly column after column of X, kept
    // as the bytes they are.
    d.pixels = std::move(images.values);
    return d;
}

Dataset load_idx(const std::string& images_path, const std::string& labels_path) {
    const IdxArray images = parse_idx(read_file_bytes(images_path), images_path);
    const IdxArray labels = parse_idx(read_file_bytes(labels_path), labels_path);
    if (images.dims.size() != 3)
        BP_THROW(images_path << ": an images file has 3 dimensions (count, rows, columns), this one "
                             << images.dims.size());
    if (labels.dims.size() != 1)
        BP_THROW(labels_path << ": a labels file has 1 dimension, this one " << labels.dims.size());
    if (images.dims[0] != labels.dims[0])
        BP_THROW(images_path << " has " << images.dims[0] << " images but " << labels_path << " has "
                             << labels.dims[0] << " labels");
    Dataset d = images_from_idx(std::move(images), images_path);
    d.labels_source = labels_path;
    d.labels.assign(labels.values.begin(), labels.values.end());
    return d;
}

Dataset load_idx_images(const std::string& images_path) {
    return images_from_idx(parse_idx(read_file_bytes(images_path), images_path), images_path);
}

IdxFiles find_idx_files(const std::string& dir) {
    auto pick = [&](const std::string& base) {
        for (const std::string& cand : {dir + "/" + base + ".gz", dir + "/" + base}) {
            struct stat st {};
            if (::stat(cand.c_str(), &st) == 0) return cand;
        }
        BP_THROW("data directory '" << dir << "' has no " << base << " (or " << base
                                    << ".gz); expected the four MNIST-format IDX files. For the default "
                                       "Fashion-MNIST data: apt-get install dataset-fashion-mnist");
    };
    IdxFiles f;
    f.train_images = pick("train-images-idx3-ubyte");
    f.train_labels = pick("train-labels-idx1-ubyte");
    f.test_images = pick("t10k-images-idx3-ubyte");
    f.test_labels = pick("t10k-labels-idx1-ubyte");
    return f;
}

}  // namespace batchprop
