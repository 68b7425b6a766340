// safetensors: a file written by MLX reads back exactly; every kind of bad file is refused with a
// salut::Error that names the file and the reason.

#include "weights/safetensors.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "weights_test_util.h"

namespace salut::weights {
namespace {

using salut::testing::RawTensor;
using salut::testing::safetensors_bytes;
using salut::testing::safetensors_file;
using salut::testing::throws_error;

std::span<const std::byte> as_bytes(const std::string& s) { return {reinterpret_cast<const std::byte*>(s.data()), s.size()}; }

TEST(Safetensors, ReadsAFileWrittenByMlx) {
  auto file = SafetensorsFile::open(testing::weights_data() / "tiny_mlx.safetensors");
  EXPECT_EQ(file.tensors().size(), 6u);
  EXPECT_EQ(file.metadata().at("format"), "mlx");

  const auto* a = file.find("a.weight");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->dtype, DType::F32);
  EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(a->nbytes, 24u);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(load_f32(a->data + 4 * i), float(i));

  const auto* b = file.find("b.bias");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->dtype, DType::BF16);
  EXPECT_EQ(load_float(DType::BF16, b->data + 2), -2.0f);
  EXPECT_EQ(load_float(DType::BF16, b->data + 4), 3.25f);

  const auto* d = file.find("d.weight");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(load_u32(d->data + 12), 4u);

  const auto* e = file.find("e.half");
  EXPECT_EQ(load_float(DType::F16, e->data + 2), 65504.0f);

  const auto* f = file.find("f.scalar");
  ASSERT_NE(f, nullptr);
  EXPECT_TRUE(f->shape.empty());
  EXPECT_EQ(f->numel(), 1);
  EXPECT_EQ(f->nbytes, 4u);

  // MLX pads nothing: some tensor starts at an address that no 4-byte type may be read from.
  bool unaligned = false;
  for (const auto& t : file.tensors()) unaligned |= reinterpret_cast<uintptr_t>(t.data) % 4 != 0;
  EXPECT_TRUE(unaligned);
  EXPECT_EQ(file.find("nope"), nullptr);
}

TEST(Safetensors, MovedFileKeepsItsViews) {
  auto file = SafetensorsFile::open(testing::weights_data() / "tiny_mlx.safetensors");
  const std::byte* data = file.find("a.weight")->data;
  SafetensorsFile moved = std::move(file);
  ASSERT_NE(moved.find("a.weight"), nullptr);
  EXPECT_EQ(moved.find("a.weight")->data, data);
  EXPECT_EQ(moved.find("a.weight")->name, "a.weight");
}

TEST(Safetensors, AcceptsEmptyTensorsPaddingAndGaps) {
  // Spaces after the JSON (the format's padding), an empty tensor, a gap between tensors.
  std::string header =
      R"({"x":{"dtype":"F32","shape":[0,5],"data_offsets":[0,0]},"y":{"dtype":"U8","shape":[2],"data_offsets":[4,6]}})";
  header += "    ";
  auto hdr = parse_safetensors_header(as_bytes(safetensors_bytes(header, "abcdefgh")), "t");
  ASSERT_EQ(hdr.tensors.size(), 2u);
  EXPECT_EQ(hdr.tensors[1].begin, 4u);
  EXPECT_EQ(hdr.data_offset, 8 + header.size());
  // mx.save_safetensors without metadata writes "__metadata__": null.
  EXPECT_TRUE(parse_safetensors_header(as_bytes(safetensors_bytes(R"({"__metadata__":null})", "")), "t").metadata.empty());
}

// Each bad header, with a message part that says why.
struct BadCase {
  const char* what;
  std::string file;
  std::vector<std::string> parts;
};

std::vector<BadCase> bad_cases() {
  const std::string ok_tensor = R"({"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  const std::string data8(8, '\0');
  auto one = [&](const std::string& entry, const std::string& data = std::string(8, '\0')) {
    return safetensors_bytes(R"({"t":)" + entry + "}", data);
  };
  return {
      {"empty file", "", {"too short", "truncated"}},
      {"7 bytes", std::string(7, '\0'), {"too short"}},
      {"header longer than file", safetensors_bytes(R"({"t":1})", "").substr(0, 10), {"header length 7", "larger"}},
      {"huge header length", std::string("\xff\xff\xff\xff\xff\xff\xff\xff", 8) + "{}", {"over the", "limit"}},
      {"header not JSON", safetensors_bytes("{not json", data8), {"not valid JSON"}},
      {"header JSON array", safetensors_bytes("[1,2]", data8), {"not an object"}},
      {"trailing garbage", safetensors_bytes("{} x", ""), {"not valid JSON"}},
      {"nested too deep", safetensors_bytes(R"({"a":{"b":{"c":[[[1]]]}}})", ""), {"nested too deeply"}},
      {"entry not object", one("5"), {"'t'", "not a JSON object"}},
      {"no dtype", one(R"({"shape":[2],"data_offsets":[0,8]})"), {"'dtype' is missing"}},
      {"no shape", one(R"({"dtype":"F32","data_offsets":[0,8]})"), {"'shape' is missing"}},
      {"no offsets", one(R"({"dtype":"F32","shape":[2]})"), {"'data_offsets' is missing"}},
      {"three offsets", one(R"({"dtype":"F32","shape":[2],"data_offsets":[0,4,8]})"), {"data_offsets"}},
      {"unknown dtype", one(R"({"dtype":"F4","shape":[2],"data_offsets":[0,8]})"), {"unknown dtype 'F4'"}},
      {"negative dim", one(R"({"dtype":"F32","shape":[-2],"data_offsets":[0,8]})"), {"not a non-negative integer"}},
      {"float dim", one(R"({"dtype":"F32","shape":[2.0],"data_offsets":[0,8]})"), {"not a non-negative integer"}},
      {"negative offset", one(R"({"dtype":"F32","shape":[2],"data_offsets":[-8,0]})"), {"data offset -8"}},
      {"end before begin", one(R"({"dtype":"U8","shape":[0],"data_offsets":[8,0]})"), {"end 0 is before begin 8"}},
      {"offsets out of range", one(R"({"dtype":"F32","shape":[4],"data_offsets":[0,16]})"),
       {"run past the end of the data area (8 bytes)"}},
      {"huge offsets", one(R"({"dtype":"U8","shape":[1],"data_offsets":[18446744073709551615,18446744073709551615]})"),
       {"run past the end"}},
      {"shape bytes mismatch", one(R"({"dtype":"F32","shape":[3],"data_offsets":[0,8]})"),
       {"shape [3] of F32 needs 12 bytes", "hold 8"}},
      {"element count overflow",
       one(R"({"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]})"), {"more elements"}},
      {"byte count overflow", one(R"({"dtype":"F32","shape":[4611686018427387904,2],"data_offsets":[0,8]})"),
       {"more"}},
      {"overlap",
       safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                         R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                         data8),
       {"'a' [0, 8] and 'b' [4, 8] overlap"}},
      {"duplicate tensor",
       safetensors_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                         R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                         data8),
       {"key 'a' twice"}},
      {"duplicate field", one(R"({"dtype":"F32","dtype":"U8","shape":[2],"data_offsets":[0,8]})"), {"'dtype' twice"}},
      {"metadata not strings", safetensors_bytes(R"({"__metadata__":{"n":1}})", ""), {"__metadata__", "not a string"}},
      {"metadata not object", safetensors_bytes(R"({"__metadata__":[]})", ""), {"__metadata__ is not"}},
      {"invalid utf-8 name", safetensors_bytes("{\"\xff\":{}}", ""), {"not valid JSON"}},
  };
}

TEST(Safetensors, RefusesEveryBadHeaderWithTheReason) {
  for (const auto& c : bad_cases()) {
    SCOPED_TRACE(c.what);
    auto result = throws_error([&] { parse_safetensors_header(as_bytes(c.file), "bad.safetensors"); },
                               Errc::not_a_model, {"bad.safetensors: "});
    EXPECT_TRUE(result) << c.what;
    for (const auto& part : c.parts) EXPECT_NE(std::string(result.message()).find(part), std::string::npos)
        << c.what << ": \"" << part << "\" not in: " << result.message();
  }
}

TEST(Safetensors, OpenNamesTheFileAndTheReason) {
  testing::TempDir dir;
  // A real MLX file cut short: the header says more than the file holds.
  const std::string good = testing::read_file(testing::weights_data() / "tiny_mlx.safetensors");
  testing::write_file(dir.path() / "cut.safetensors", good.substr(0, 40));
  EXPECT_TRUE(throws_error([&] { SafetensorsFile::open(dir.path() / "cut.safetensors"); }, Errc::not_a_model,
                           {(dir.path() / "cut.safetensors").string(), "larger than the rest of the file"}));
  // Cut inside the data: tensors run past the end.
  testing::write_file(dir.path() / "short.safetensors", good.substr(0, good.size() - 3));
  EXPECT_TRUE(throws_error([&] { SafetensorsFile::open(dir.path() / "short.safetensors"); }, Errc::not_a_model,
                           {"short.safetensors", "run past the end of the data area"}));
  testing::write_file(dir.path() / "empty.safetensors", "");
  EXPECT_TRUE(throws_error([&] { SafetensorsFile::open(dir.path() / "empty.safetensors"); }, Errc::not_a_model,
                           {"empty.safetensors", "0 bytes"}));
  EXPECT_TRUE(throws_error([&] { SafetensorsFile::open(dir.path() / "missing.safetensors"); }, Errc::not_found,
                           {"missing.safetensors"}));
  EXPECT_TRUE(throws_error([&] { SafetensorsFile::open(dir.path()); }, Errc::io, {"not a regular file"}));
}

TEST(Safetensors, MutatedMlxFilesAreRefusedNotCrashedOn) {
  // Every single-byte change to the header of a real MLX file either still parses or throws
  // salut::Error; nothing else escapes.
  const std::string good = testing::read_file(testing::weights_data() / "tiny_mlx.safetensors");
  uint64_t header_len = 0;
  std::memcpy(&header_len, good.data(), 8);
  int refused = 0;
  for (size_t i = 0; i < 8 + header_len; ++i) {
    for (unsigned char v : {0x00, 0x22, 0x2c, 0x30, 0x39, 0x5b, 0x7d, 0xff}) {
      std::string bad = good;
      bad[i] = char(v);
      try {
        parse_safetensors_header(as_bytes(bad), "m");
      } catch (const Error&) {
        ++refused;
      }
    }
  }
  EXPECT_GT(refused, 0);
}

TEST(Safetensors, HandMadeFileWithEveryDType) {
  std::vector<RawTensor> tensors;
  for (auto t : {DType::F32, DType::F16, DType::BF16, DType::F64, DType::U8, DType::U16, DType::U32, DType::U64,
                 DType::I8, DType::I16, DType::I32, DType::I64, DType::BOOL, DType::F8_E4M3, DType::F8_E8M0})
    tensors.push_back({std::string(name(t)), std::string(name(t)), {3}, std::string(3 * item_size(t), 'x')});
  const auto bytes = safetensors_file(tensors, {{"format", "pt"}});
  auto hdr = parse_safetensors_header(as_bytes(bytes));
  ASSERT_EQ(hdr.tensors.size(), tensors.size());
  for (const auto& t : hdr.tensors) EXPECT_EQ(name(t.dtype), t.name);
  EXPECT_EQ(hdr.metadata.at("format"), "pt");
}

}  // namespace
}  // namespace salut::weights
