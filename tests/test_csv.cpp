// The MNIST-CSV reader: the layout (header, CRLF, blank lines, gzip), pixels scaled exactly as
// the IDX reader scales them, and each malformed input rejected naming the file and the line.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>

#include "batchprop/check.hpp"
#include "batchprop/csv.hpp"

using namespace batchprop;
namespace fs = std::filesystem;

namespace {

TEST(Csv, ParsesLabelsAndPixelsColumnByColumn) {
    const Dataset d = parse_csv("label,1x1,1x2,2x1\n7,0,51,255\r\n\n0, 1 ,2,3\n", "t.csv");
    ASSERT_EQ(d.n, 2);
    ASSERT_EQ(d.n_inputs, 3);
    EXPECT_EQ(d.labels, (std::vector<int>{7, 0}));
    // The bytes the IDX reader would hold for the same image.
    EXPECT_EQ(d.pixels, (std::vector<std::uint8_t>{0, 51, 255, 1, 2, 3}));
    EXPECT_EQ(d.source, "t.csv");
}

TEST(Csv, HeaderIsOptional) {
    const Dataset d = parse_csv("1,2,3\n2,3,4", "t.csv");  // no header, no final newline
    EXPECT_EQ(d.n, 2);
    EXPECT_EQ(d.labels, (std::vector<int>{1, 2}));
}

TEST(Csv, ReadsGzippedFiles) {
    const fs::path p = fs::temp_directory_path() / ("bp_csv_" + std::to_string(::getpid()) + ".csv.gz");
    const std::string text = "3,10,20\n4,30,40\n";
    gzFile f = gzopen(p.c_str(), "wb");
    gzwrite(f, text.data(), unsigned(text.size()));
    gzclose(f);
    const Dataset d = load_csv(p.string());
    fs::remove(p);
    EXPECT_EQ(d.n, 2);
    EXPECT_EQ(d.labels, (std::vector<int>{3, 4}));
}

void expect_error(const std::string& text, const std::string& needle) {
    try {
        parse_csv(text, "data.csv");
        ADD_FAILURE() << "no error for " << ::testing::PrintToString(text) << "; expected: " << needle;
    } catch (const Error& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find(needle), std::string::npos) << msg;
        EXPECT_EQ(msg.rfind("data.csv: ", 0), 0u) << msg;
    }
}

TEST(Csv, MalformedInputNamesTheLine) {
    expect_error("1,2,3\n1,2,3\n1,2\n", "line 3 has 2 fields, expected 3");
    expect_error("label,a,b\n1,2,3,4\n", "line 2 has 4 fields, expected 3");
    expect_error("1,2,3\n1,abc,3\n", "line 2, field 2: 'abc' is not a number");
    expect_error("1,2,3\n1,2,\n", "line 2, field 3: '' is not a number");
    expect_error("1,2,3\n1,2,256\n", "line 2, field 3: pixel value '256' is outside 0..255");
    expect_error("1,-1,3\n", "line 1, field 2: pixel value '-1' is outside 0..255");
    expect_error("1,nan,3\n", "outside 0..255");
    expect_error("1,2,3\n1.5,2,3\n", "line 2: the label '1.5' is not a whole number");
    expect_error("1,2,3\n1,2.5,3\n", "line 2, field 2: pixel value '2.5' is not a whole number 0..255");
    expect_error("1,2,3\n-2,2,3\n", "line 2: label -2 is not a class number");
    expect_error("1,2,3\nx,2,3\n", "line 2: the label 'x' is not a whole number");
    expect_error("5\n", "line 1 has 1 field");
    expect_error("", "no examples");
    expect_error("\n\n", "no examples");
    expect_error("label,p1,p2\n", "no examples");
}

}  // namespace
