// Packing keeps boundaries (the first token of every example is never a target) and split is seeded.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <numeric>

#include "lmdata/lmdata.h"

namespace sskai::lmdata {
namespace {

ml::LmExample Ex(int64_t first, int n, int masked_prefix = 1) {
  ml::LmExample ex;
  for (int idx = 0; idx < n; ++idx) {
    ex.ids.push_back(first + idx);
    ex.target.push_back(idx < masked_prefix ? 0 : 1);
  }
  return ex;
}

TEST(PackTest, PacksGreedilyAndMasksEachExamplesFirstToken) {
  PackStats st;
  auto seqs = Pack({Ex(100, 3), Ex(200, 4), Ex(300, 5), Ex(400, 2)}, 8, true, false, &st);
  ASSERT_EQ(seqs.size(), 2u);
  EXPECT_EQ(seqs[0].ids, (std::vector<int64_t>{100, 101, 102, 200, 201, 202, 203}));
  EXPECT_EQ(seqs[0].target, (std::vector<uint8_t>{0, 1, 1, 0, 1, 1, 1}));
  EXPECT_EQ(seqs[1].ids, (std::vector<int64_t>{300, 301, 302, 303, 304, 400, 401}));
  EXPECT_EQ(seqs[1].target, (std::vector<uint8_t>{0, 1, 1, 1, 1, 0, 1}));
  EXPECT_EQ(st.examples, 4);
  EXPECT_EQ(st.sequences, 2);
  EXPECT_EQ(st.tokens, 14);
  EXPECT_EQ(st.target_tokens, 10);
  // Each piece is its own document (block-diagonal attention) by default.
  EXPECT_EQ(seqs[0].document, (std::vector<int32_t>{0, 0, 0, 1, 1, 1, 1}));
  EXPECT_EQ(seqs[1].document, (std::vector<int32_t>{0, 0, 0, 0, 0, 1, 1}));
}

TEST(PackTest, BlockDiagonalCanBeTurnedOffAndUnpackedRowsAreOneDocument) {
  auto full = Pack({Ex(100, 3), Ex(200, 4)}, 8, true, false, nullptr, /*block_diagonal=*/false);
  ASSERT_EQ(full.size(), 1u);
  EXPECT_EQ(full[0].ids.size(), 7u);
  EXPECT_TRUE(full[0].document.empty());
  auto single = Pack({Ex(100, 3), Ex(200, 4)}, 8, /*pack=*/false, false, nullptr);
  ASSERT_EQ(single.size(), 2u);
  EXPECT_EQ(single[1].document, (std::vector<int32_t>{0, 0, 0, 0}));
}

TEST(PackTest, SplitsLongTextAndTruncatesPrompts) {
  PackStats st;
  auto chunks = Pack({Ex(0, 10)}, 4, false, true, &st);
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[1].ids, (std::vector<int64_t>{4, 5, 6, 7}));
  EXPECT_EQ(chunks[1].target, (std::vector<uint8_t>{0, 1, 1, 1}));
  EXPECT_EQ(chunks[2].ids, (std::vector<int64_t>{8, 9}));
  auto cut = Pack({Ex(0, 10, 3), Ex(50, 6, 5)}, 4, false, false, &st);
  ASSERT_EQ(cut.size(), 1u);  // the second has no target within 4 tokens
  EXPECT_EQ(cut[0].ids, (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(st.truncated, 2);
  EXPECT_EQ(st.dropped, 1);
}

TEST(PackTest, EveryPackedSequenceFits) {
  std::vector<ml::LmExample> in;
  for (int idx = 1; idx < 60; ++idx) in.push_back(Ex(idx * 1000, idx % 13 + 2));
  for (int max_len : {2, 5, 16, 64}) {
    PackStats st;
    auto seqs = Pack(in, max_len, true, true, &st);
    int64_t tokens = 0;
    for (const auto& s : seqs) {
      EXPECT_LE(s.ids.size(), static_cast<size_t>(max_len));
      EXPECT_EQ(s.target[0], 0);
      tokens += static_cast<int64_t>(s.ids.size());
    }
    EXPECT_EQ(tokens, st.tokens);
  }
}

TEST(SplitTest, DeterministicBySeedAndNeverEmpty) {
  std::vector<ml::LmExample> in;
  for (int idx = 0; idx < 20; ++idx) in.push_back(Ex(idx, 2));
  auto a = SplitTrainEval(in, 0.1, 7), b = SplitTrainEval(in, 0.1, 7), c = SplitTrainEval(in, 0.1, 8);
  ASSERT_EQ(a.eval.size(), 2u);
  EXPECT_EQ(a.train.size(), 18u);
  EXPECT_EQ(a.eval[0].ids, b.eval[0].ids);
  EXPECT_EQ(a.eval[1].ids, b.eval[1].ids);
  EXPECT_TRUE(a.eval[0].ids != c.eval[0].ids || a.eval[1].ids != c.eval[1].ids);
  EXPECT_LT(a.train[0].ids[0], a.train[1].ids[0]);  // input order kept
  EXPECT_EQ(SplitTrainEval({Ex(0, 2), Ex(1, 2)}, 0.01, 1).eval.size(), 1u);
  EXPECT_EQ(SplitTrainEval({Ex(0, 2), Ex(1, 2)}, 0.5, 1).train.size(), 1u);
  EXPECT_EQ(SplitTrainEval({Ex(0, 2)}, 0.5, 1).eval.size(), 0u);
  EXPECT_EQ(SplitTrainEval(in, 0, 1).train.size(), 20u);
}

TEST(ContainerTest, RoundTripsAndRejectsCorruption) {
  namespace fs = std::filesystem;
  fs::path root = fs::temp_directory_path() / ("lmdata_container_" + std::to_string(::getpid()));
  fs::create_directories(root / "in");
  std::string big(100000, 'x');
  big[500] = '\0';
  std::ofstream(root / "in" / "a.bin", std::ios::binary) << big;
  std::ofstream(root / "in" / "state.json") << "{\"step\": 3}";
  ASSERT_TRUE(PackDirectory((root / "in").string(), (root / "c.bin").string()).ok());
  ASSERT_TRUE(UnpackDirectory((root / "c.bin").string(), (root / "out").string()).ok());
  std::ifstream in(root / "out" / "a.bin", std::ios::binary);
  std::string back((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(back, big);
  // Flip one byte: the digest catches it; truncate: too.
  std::string blob;
  {
    std::ifstream f(root / "c.bin", std::ios::binary);
    blob.assign((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  }
  std::string flipped = blob;
  flipped[40] ^= 1;
  std::ofstream(root / "bad.bin", std::ios::binary) << flipped;
  Status st = UnpackDirectory((root / "bad.bin").string(), (root / "out2").string());
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  std::ofstream(root / "short.bin", std::ios::binary) << blob.substr(0, blob.size() / 2);
  EXPECT_EQ(UnpackDirectory((root / "short.bin").string(), (root / "out3").string()).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(UnpackDirectory((root / "none.bin").string(), (root / "out4").string()).code(), StatusCode::kNotFound);
  fs::remove_all(root);
}

}  // namespace
}  // namespace sskai::lmdata
