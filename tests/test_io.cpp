// The IDX reader: valid files (raw and gzip) round-trip; every malformed case fails with an
// error that names the file and the problem.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "batchprop/check.hpp"
#include "batchprop/dataset.hpp"
#include "support/test_util.hpp"

using namespace batchprop;
namespace fs = std::filesystem;

namespace {

class IdxTest : public bptest::TempDirTest {
protected:
    IdxTest() : TempDirTest("bp_io") {}

    std::string write(const std::string& name, const std::vector<std::uint8_t>& bytes, bool gz = false) {
        const std::string file = path(name);
        if (gz) {
            gzFile f = gzopen(file.c_str(), "wb");
            gzwrite(f, bytes.data(), unsigned(bytes.size()));
            gzclose(f);
        } else {
            std::ofstream(file, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
        }
        return file;
    }
    // 3 images of 2x2 pixels with distinct values, and their labels.
    static std::vector<std::uint8_t> pixels() { return {0, 51, 102, 255, 1, 2, 3, 4, 200, 100, 50, 25}; }

    void expect_error(const std::string& images, const std::string& labels, const std::string& needle,
                      const std::string& names) {
        try {
            load_idx(images, labels);
            ADD_FAILURE() << "no error; expected: " << needle;
        } catch (const Error& e) {
            const std::string msg = e.what();
            EXPECT_NE(msg.find(needle), std::string::npos) << msg;
            EXPECT_NE(msg.find(names), std::string::npos) << "message does not name the file: " << msg;
        }
    }
};

TEST_F(IdxTest, RawAndGzipRoundTrip) {
    for (bool gz : {false, true}) {
        const std::string im = write("im", bptest::idx_bytes({3, 2, 2}, pixels()), gz);
        const std::string lb = write("lb", bptest::idx_bytes({3}, {7, 0, 9}), gz);
        const Dataset d = load_idx(im, lb);
        ASSERT_EQ(d.n, 3);
        ASSERT_EQ(d.n_inputs, 4);
        EXPECT_EQ(d.labels, (std::vector<int>{7, 0, 9}));
        // Image j is column j: pixel order within an image is kept, the bytes as stored.
        EXPECT_EQ(d.pixels, pixels());
        EXPECT_EQ(d.max_label(), 9);
        const Dataset s = d.slice(1, 2);
        EXPECT_EQ(s.n, 2);
        EXPECT_EQ(s.pixels[0], pixels()[4]);
        EXPECT_EQ(s.labels, (std::vector<int>{0, 9}));
    }
}

TEST_F(IdxTest, BadMagic) {
    std::vector<std::uint8_t> b = bptest::idx_bytes({3, 2, 2}, pixels());
    b[0] = 0x1f;  // not 0 0
    const std::string im = write("im", b), lb = write("lb", bptest::idx_bytes({3}, {1, 2, 3}));
    expect_error(im, lb, "magic", im);
    b = bptest::idx_bytes({3, 2, 2}, pixels());
    b[2] = 0x0D;  // float elements: not MNIST's unsigned bytes
    expect_error(write("im2", b), lb, "element type", "im2");
}

TEST_F(IdxTest, Truncated) {
    std::vector<std::uint8_t> b = bptest::idx_bytes({3, 2, 2}, pixels());
    b.pop_back();
    const std::string lb = write("lb", bptest::idx_bytes({3}, {1, 2, 3}));
    expect_error(write("im", b), lb, "truncated", "im");
    expect_error(write("hdr", {0, 0, 8, 3, 0, 0}), lb, "truncated IDX header", "hdr");
    b = bptest::idx_bytes({3, 2, 2}, pixels());
    b.push_back(0);
    expect_error(write("long", b), lb, "unexpected bytes", "long");
}

TEST_F(IdxTest, CountMismatch) {
    const std::string im = write("im", bptest::idx_bytes({3, 2, 2}, pixels()));
    const std::string lb = write("lb", bptest::idx_bytes({2}, {1, 2}));
    expect_error(im, lb, "has 3 images but", lb);
    expect_error(im, write("lb2", bptest::idx_bytes({3, 1}, {1, 2, 3})), "1 dimension", "lb2");
    expect_error(write("im1", bptest::idx_bytes({3}, {1, 2, 3})), lb, "3 dimensions", "im1");
}

TEST_F(IdxTest, ZeroSize) {
    const std::string lb = write("lb", bptest::idx_bytes({3}, {1, 2, 3}));
    expect_error(write("empty", {}), lb, "too short", "empty");
    expect_error(write("zero", bptest::idx_bytes({0, 2, 2}, {})), lb, "dimension 0 is zero", "zero");
}

TEST_F(IdxTest, GzipCorruption) {
    const std::string good = write("im.gz", bptest::idx_bytes({3, 2, 2}, pixels()), true);
    std::ifstream in(good, std::ios::binary);
    std::vector<std::uint8_t> z((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::string lb = write("lb", bptest::idx_bytes({3}, {1, 2, 3}));
    std::vector<std::uint8_t> cut(z.begin(), z.begin() + std::ptrdiff_t(z.size() / 2));
    expect_error(write("cut.gz", cut), lb, "gzip", "cut.gz");
    std::vector<std::uint8_t> flipped = z;
    for (std::size_t i = 12; i < flipped.size() - 8; ++i) flipped[i] ^= 0x5a;
    expect_error(write("bad.gz", flipped), lb, "corrupt gzip", "bad.gz");
}

// The whole gzip format, not just one member: concatenated members read as one stream (as
// `cat a.gz b.gz` and gzip -d make them), which also makes the output outgrow the size the last
// member's trailer announces; bytes after the last member, and a trailer whose length is wrong,
// are errors that name the file.
TEST_F(IdxTest, GzipMembersAndTrailer) {
    auto slurp = [](const std::string& f) {
        std::ifstream in(f, std::ios::binary);
        return std::vector<std::uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    };
    // 3000 images of 4x4 pixels: the output is far larger than the last member's 8 bytes.
    std::vector<std::uint8_t> px(3000 * 16);
    for (std::size_t i = 0; i < px.size(); ++i) px[i] = std::uint8_t(i * 7 % 251);
    const std::vector<std::uint8_t> raw = bptest::idx_bytes({3000, 4, 4}, px);
    const std::size_t cut = raw.size() - 8;
    std::vector<std::uint8_t> z = slurp(write("a.gz", {raw.begin(), raw.begin() + std::ptrdiff_t(cut)}, true));
    const std::vector<std::uint8_t> z2 = slurp(write("b.gz", {raw.begin() + std::ptrdiff_t(cut), raw.end()}, true));
    z.insert(z.end(), z2.begin(), z2.end());
    EXPECT_EQ(read_file_bytes(write("two.gz", z)), raw);

    const std::string lb = write("lb", bptest::idx_bytes({3000}, std::vector<std::uint8_t>(3000, 1)));
    std::vector<std::uint8_t> junk = z;
    junk.insert(junk.end(), {'j', 'u', 'n', 'k'});
    expect_error(write("junk.gz", junk), lb, "4 unexpected bytes after the gzip data", "junk.gz");
    std::vector<std::uint8_t> lying = z;
    lying[lying.size() - 4] ^= 1;  // ISIZE, the last member's length mod 2^32
    expect_error(write("lying.gz", lying), lb, "corrupt gzip data", "lying.gz");
}

TEST_F(IdxTest, MissingFileAndDirectory) {
    const std::string lb = write("lb", bptest::idx_bytes({3}, {1, 2, 3}));
    expect_error((dir_ / "nope").string(), lb, "No such file", "nope");
    expect_error(dir_.string(), lb, "directory", dir_.string());
    try {
        find_idx_files((dir_ / "nodata").string());
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("apt-get install dataset-fashion-mnist"), std::string::npos);
    }
}

}  // namespace
