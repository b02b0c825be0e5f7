// The IDX reader (MNIST's format) and data set helpers. Every failure names the file.
#include "batchprop/dataset.hpp"

#include <fcntl.h>
#include <libdeflate.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <memory>
#include <utility>
#include <sys/stat.h>

#include "batchprop/check.hpp"

namespace batchprop {

namespace detail {
// Sets and reads the borrowed images of a Dataset (its private members).
struct DatasetAccess {
    static void borrow(Dataset& d, const void* data, PixelType type, std::shared_ptr<const void> keepalive) {
        d.borrowed_ = true;
        d.borrowed_data_ = data;
        d.borrowed_type_ = type;
        d.keepalive_ = std::move(keepalive);
    }
};
}  // namespace detail

Dataset Dataset::slice(int first, int count) const {
    BP_REQUIRE(first >= 0 && count >= 0 && first + count <= n,
               "slice [" << first << ", " << first + count << ") of " << n << " examples");
    Dataset d;
    d.n_inputs = n_inputs;
    d.n = count;
    d.source = source;
    d.labels_source = labels_source;
    const std::size_t begin = std::size_t(first) * std::size_t(n_inputs);
    if (borrowed_) {
        // A view into the same images; the keepalive goes with it.
        const auto* base = static_cast<const unsigned char*>(borrowed_data_);
        detail::DatasetAccess::borrow(d, base ? base + begin * pixel_size(borrowed_type_) : nullptr, borrowed_type_,
                                      keepalive_);
    } else {
        const auto p0 = pixels.begin() + std::ptrdiff_t(begin);
        d.pixels.assign(p0, p0 + std::ptrdiff_t(count) * n_inputs);
    }
    if (!labels.empty()) d.labels.assign(labels.begin() + first, labels.begin() + first + count);
    return d;
}

namespace {
// The checks and the Dataset common to both borrow_images.
Dataset borrowed_dataset(int n_inputs, int n, const void* data, PixelType type, std::shared_ptr<const void> keepalive,
                         std::vector<int> labels, std::string source) {
    if (n_inputs < 1) BP_THROW(source << ": images need at least one pixel (got " << n_inputs << ")");
    if (n < 0) BP_THROW(source << ": a negative number of images (" << n << ")");
    if (n > 0 && !data) BP_THROW(source << ": " << n << " images at a null pointer");
    if (std::size_t(n_inputs) * std::size_t(n) > std::size_t(PTRDIFF_MAX) / sizeof(float))
        BP_THROW(source << ": " << n << " images of " << n_inputs << " pixels is too many");
    if (!labels.empty() && labels.size() != std::size_t(n))
        BP_THROW(source << ": " << n << " images but " << labels.size() << " labels");
    for (std::size_t j = 0; j < labels.size(); ++j)
        if (labels[j] < 0) BP_THROW(source << ": label " << j << " is negative (" << labels[j] << ")");
    Dataset d;
    d.n_inputs = n_inputs;
    d.n = n;
    d.labels = std::move(labels);
    d.source = std::move(source);
    detail::DatasetAccess::borrow(d, data, type, std::move(keepalive));
    return d;
}
}  // namespace

Dataset borrow_images(int n_inputs, int n, const std::uint8_t* pixels, std::shared_ptr<const void> keepalive,
                      std::vector<int> labels, std::string source) {
    return borrowed_dataset(n_inputs, n, pixels, PixelType::u8, std::move(keepalive), std::move(labels),
                            std::move(source));
}

Dataset borrow_images(int n_inputs, int n, const float* inputs, std::shared_ptr<const void> keepalive,
                      std::vector<int> labels, std::string source) {
    if (reinterpret_cast<std::uintptr_t>(inputs) % alignof(float) != 0)
        BP_THROW(source << ": the float inputs are not aligned to " << alignof(float) << " bytes");
    Dataset d = borrowed_dataset(n_inputs, n, inputs, PixelType::f32, std::move(keepalive), std::move(labels),
                                 std::move(source));
    // NaN or Inf would train to NaN parameters without a word; name the first one instead.
    const std::size_t total = std::size_t(n_inputs) * std::size_t(n);
    for (std::size_t i = 0; i < total; ++i)
        if (!std::isfinite(inputs[i]))
            BP_THROW(d.source << ": input " << i % std::size_t(n_inputs) << " of image " << i / std::size_t(n_inputs)
                              << " is not finite (" << inputs[i] << ")");
    return d;
}

int Dataset::max_label() const {
    return labels.empty() ? -1 : *std::max_element(labels.begin(), labels.end());
}

namespace {

bool is_gzip(const std::uint8_t* p, std::size_t n) { return n >= 2 && p[0] == 0x1f && p[1] == 0x8b; }

// 1 GiB: MNIST-like files are tens of MiB; more is a bomb or a wrong file.
constexpr std::size_t kMaxInflated = std::size_t(1) << 30;

// Why zlib cannot inflate one gzip member either: libdeflate, which does the work, says only
// "bad data", while zlib names the fault ("invalid block type", "incorrect data check") and
// tells a cut-off file from a corrupt one. Only runs on input that already failed.
std::string zlib_diagnosis(const std::uint8_t* in, std::size_t n) {
    z_stream zs{};
    // 16 + MAX_WBITS: gzip wrapper only; a raw zlib stream is not what IDX files use.
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) return "corrupt gzip data";
    zs.next_in = const_cast<Bytef*>(in);
    zs.avail_in = uInt(std::min<std::size_t>(n, 0xffffffffu));
    std::uint8_t chunk[1 << 14];
    std::string why;
    for (std::size_t out = 0; why.empty(); out += sizeof chunk - zs.avail_out) {
        zs.next_out = chunk;
        zs.avail_out = sizeof chunk;
        const int rc = inflate(&zs, Z_NO_FLUSH);
        if (rc == Z_STREAM_END) why = "corrupt gzip data";  // zlib accepts what libdeflate refused
        else if (rc != Z_OK && rc != Z_BUF_ERROR) why = std::string("corrupt gzip data (") + (zs.msg ? zs.msg : "error") + ")";
        else if (zs.avail_in == 0 && zs.avail_out != 0) why = "truncated gzip data";
        else if (out > kMaxInflated) why = "corrupt gzip data";
    }
    inflateEnd(&zs);
    return why;
}

// n zero bytes, in huge pages where the kernel allows it (transparent huge pages, `madvise`
// mode): filling tens of MiB of fresh memory 4 KiB at a time spends more time in page faults
// than libdeflate spends inflating. The advice is given before the first touch (reserve
// allocates, resize touches); it changes nothing but speed, and is ignored where unsupported.
std::vector<std::uint8_t> fresh_buffer(std::size_t n) {
    std::vector<std::uint8_t> v;
    v.reserve(n);
#if defined(MADV_HUGEPAGE)
    constexpr std::uintptr_t kHuge = std::uintptr_t(1) << 21;
    const std::uintptr_t first = (reinterpret_cast<std::uintptr_t>(v.data()) + kHuge - 1) & ~(kHuge - 1);
    const std::uintptr_t last = (reinterpret_cast<std::uintptr_t>(v.data()) + n) & ~(kHuge - 1);
    if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
#endif
    v.resize(n);
    return v;
}

std::uint32_t le32(const std::uint8_t* p) {
    return std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 | std::uint32_t(p[2]) << 16 | std::uint32_t(p[3]) << 24;
}

// A whole gzip file inflated by libdeflate in one call per member, into a buffer sized once
// from the gzip trailer: its last four bytes (ISIZE) are the uncompressed size of the last
// member mod 2^32, which for the usual one-member file is the size of the whole output. If
// the output turns out larger (several members, or a trailer that lies), the buffer doubles and
// that member is inflated again, up to kMaxInflated and never past the 1032:1 that DEFLATE can
// reach, so a few bytes cannot make it allocate a gigabyte. Members follow each other as in
// `cat a.gz b.gz` (gzip -d reads those); anything else after the last member is an error.
std::vector<std::uint8_t> gunzip(const std::vector<std::uint8_t>& in, const std::string& path) {
    const std::size_t n_in = in.size();
    const std::size_t limit = std::min(kMaxInflated, n_in * 1032 + 1024);
    const std::size_t isize = n_in >= 18 ? le32(in.data() + n_in - 4) : 0;
    std::vector<std::uint8_t> out = fresh_buffer(std::min(limit, std::max(isize, n_in * 4)));
    std::unique_ptr<libdeflate_decompressor, void (*)(libdeflate_decompressor*)> d(
        libdeflate_alloc_decompressor(), libdeflate_free_decompressor);
    if (!d) BP_THROW(path << ": out of memory for the gzip decompressor");
    std::size_t pos_in = 0, pos_out = 0;
    while (pos_in < n_in) {
        if (!is_gzip(in.data() + pos_in, n_in - pos_in))
            BP_THROW(path << ": " << n_in - pos_in << " unexpected bytes after the gzip data");
        std::size_t used = 0, made = 0;
        const libdeflate_result r = libdeflate_gzip_decompress_ex(
            d.get(), in.data() + pos_in, n_in - pos_in, out.data() + pos_out, out.size() - pos_out, &used, &made);
        if (r == LIBDEFLATE_INSUFFICIENT_SPACE) {
            if (out.size() >= kMaxInflated)
                BP_THROW(path << ": decompresses to more than 1 GiB; not a data file this tool reads");
            if (out.size() >= limit)  // more than DEFLATE can encode in these bytes: corrupt
                BP_THROW(path << ": " << zlib_diagnosis(in.data() + pos_in, n_in - pos_in));
            out.resize(std::min(limit, 2 * out.size()));
            continue;  // the same member again, with room
        }
        if (r != LIBDEFLATE_SUCCESS) BP_THROW(path << ": " << zlib_diagnosis(in.data() + pos_in, n_in - pos_in));
        pos_in += used;
        pos_out += made;
    }
    out.resize(pos_out);
    return out;
}

// The first four bytes of an IDX file: 0 0, then the element type (bytes, 0x08), then 1 to 3
// dimensions. Checked as soon as they are read, so a stream that is no IDX file (/dev/zero)
// is refused at once instead of read to its end.
void check_idx_head(const std::uint8_t* b, std::size_t n, const std::string& what) {
    if (n < 4) BP_THROW(what << ": too short for an IDX header (" << n << " bytes)");
    if (b[0] != 0 || b[1] != 0)
        BP_THROW(what << ": bad IDX magic number (first bytes " << int(b[0]) << " " << int(b[1])
                      << ", expected 0 0): not an IDX file");
    if (b[2] != 0x08)
        BP_THROW(what << ": IDX element type 0x" << std::hex << int(b[2]) << std::dec
                      << " not supported (only unsigned bytes, 0x08, as MNIST uses)");
    if (b[3] < 1 || b[3] > 3) BP_THROW(what << ": IDX file with " << int(b[3]) << " dimensions (expected 1 to 3)");
}

// What a file's first bytes must be, checked once they are in (none: anything goes).
using HeadCheck = void (*)(const std::uint8_t* b, std::size_t n, const std::string& what);

// Reads a whole file: one buffer the size of the file and read(2) until it is full (files that
// report no size, pipes and the like, are read in chunks until the end). head_check, when
// given, sees the first bytes (4, or fewer at the end) unless they start a gzip stream.
std::vector<std::uint8_t> slurp(const std::string& path, HeadCheck head_check = nullptr) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) BP_THROW(path << ": cannot open (" << std::strerror(errno) << ")");
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0) BP_THROW(path << ": " << std::strerror(errno));
    if (S_ISREG(st.st_mode) && std::size_t(st.st_size) > 2 * kMaxInflated)
        BP_THROW(path << ": more than 2 GiB; not a data file this tool reads");
    std::vector<std::uint8_t> bytes = fresh_buffer(S_ISREG(st.st_mode) ? std::size_t(st.st_size) : std::size_t(1) << 16);
    std::size_t have = 0;
    for (;;) {
        if (have == bytes.size()) {
            if (S_ISREG(st.st_mode) && have == std::size_t(st.st_size)) {
                // The whole size stat reported: one more byte tells whether the file grew meanwhile.
                std::uint8_t probe;
                const ssize_t k = ::read(fd, &probe, 1);
                if (k == 0) break;
                if (k < 0 && errno == EINTR) continue;
                if (k < 0) BP_THROW(path << ": read error (" << std::strerror(errno) << ")");
                bytes.push_back(probe);
                ++have;
            }
            // Never more than the limit and one byte: a device that never ends (/dev/zero) is
            // refused at 2 GiB instead of growing until memory runs out.
            constexpr std::size_t kMaxFile = 2 * kMaxInflated;
            if (have > kMaxFile) BP_THROW(path << ": more than 2 GiB; not a data file this tool reads");
            try {
                bytes.resize(std::min(std::max(bytes.size() * 2, std::size_t(1) << 16), kMaxFile + 1));
            } catch (const std::bad_alloc&) {
                BP_THROW(path << ": out of memory after reading " << have << " bytes of it");
            }
        }
        const ssize_t k = ::read(fd, bytes.data() + have, bytes.size() - have);
        if (k == 0) break;
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) BP_THROW(path << ": read error (" << std::strerror(errno) << ")");
        const bool head_now_in = have < 4 && have + std::size_t(k) >= 4;
        have += std::size_t(k);
        if (head_check && head_now_in && !is_gzip(bytes.data(), have)) head_check(bytes.data(), 4, path);
    }
    bytes.resize(have);
    return bytes;
}

std::uint32_t be32(const std::uint8_t* p) {
    return std::uint32_t(p[0]) << 24 | std::uint32_t(p[1]) << 16 | std::uint32_t(p[2]) << 8 | p[3];
}

}  // namespace

namespace {
std::vector<std::uint8_t> read_checked(const std::string& path, HeadCheck head_check) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) BP_THROW(path << ": " << std::strerror(errno));
    if (S_ISDIR(st.st_mode)) BP_THROW(path << ": is a directory, not a file");
    return gunzip_if_gzip(slurp(path, head_check), path);
}
// An IDX file's bytes, gunzipped; a raw stream that is no IDX file is refused at its head.
std::vector<std::uint8_t> read_idx_bytes(const std::string& path) { return read_checked(path, check_idx_head); }
}  // namespace

std::vector<std::uint8_t> read_file_bytes(const std::string& path) { return read_checked(path, nullptr); }

std::vector<std::uint8_t> gunzip_if_gzip(std::vector<std::uint8_t> bytes, const std::string& what) {
    return is_gzip(bytes.data(), bytes.size()) ? gunzip(bytes, what) : bytes;
}

IdxArray parse_idx(const std::vector<std::uint8_t>& b, const std::string& what) {
    // Header: 0x00 0x00 <type> <ndims>, then ndims big-endian uint32 sizes, then the data.
    check_idx_head(b.data(), b.size(), what);
    const int nd = b[3];
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
    // In huge pages too (fresh_buffer): training reads a few scattered images every step
    // (gather_batch), and with 4 KiB pages each of them costs a TLB miss and a page walk.
    out.values = fresh_buffer(count);
    std::copy(b.begin() + std::ptrdiff_t(header), b.end(), out.values.begin());
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
    IdxArray images = parse_idx(read_idx_bytes(images_path), images_path);  // not const: moved below
    const IdxArray labels = parse_idx(read_idx_bytes(labels_path), labels_path);
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
    return images_from_idx(parse_idx(read_idx_bytes(images_path), images_path), images_path);
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

DataFileKind sniff_data_file(const std::string& path) {
    gzFile f = gzopen(path.c_str(), "rb");  // zlib reads plain files too
    if (!f) return DataFileKind::unknown;
    std::string h(256, '\0');
    const int got = gzread(f, h.data(), unsigned(h.size()));
    gzclose(f);
    h.resize(got > 0 ? std::size_t(got) : 0);
    if (h.size() >= 4 && h[0] == 0 && h[1] == 0 && h[2] == 8)  // IDX of unsigned bytes
        return h[3] == 1 ? DataFileKind::idx_labels : h[3] == 3 ? DataFileKind::idx_images : DataFileKind::unknown;
    const std::string first = h.substr(0, h.find('\n'));
    if (!first.empty() && first.find(',') != std::string::npos &&
        first.find_first_not_of("0123456789,.xlabe \r\t") == std::string::npos)  // "label,1x1,..." or numbers
        return DataFileKind::csv;
    return DataFileKind::unknown;
}

}  // namespace batchprop
