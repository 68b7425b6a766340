#include "store/display_name.h"

#include <gtest/gtest.h>

namespace salut::store {
namespace {

struct Case {
  const char* id;
  const char* expected;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.id; }

class DisplayNameTest : public ::testing::TestWithParam<Case> {};

TEST_P(DisplayNameTest, FollowsTheRule) { EXPECT_EQ(display_name(GetParam().id), GetParam().expected); }

INSTANTIATE_TEST_SUITE_P(
    IssueTable, DisplayNameTest,
    ::testing::Values(Case{"mlx-community/Qwen3-8B-MLX-4bit", "Qwen 3 8B (4-bit)"},
                      Case{"mlx-community/Llama-3.3-70B-Instruct-4bit", "Llama 3.3 70B Instruct (4-bit)"},
                      Case{"mlx-community/Phi-4-mini-instruct-4bit", "Phi 4 Mini Instruct (4-bit)"},
                      Case{"mlx-community/Qwen3-30B-A3B-8bit", "Qwen 3 30B-A3B (8-bit)"},
                      Case{"mlx-community/Mistral-7B-Instruct-v0.3-4bit", "Mistral 7B Instruct v0.3 (4-bit)"},
                      Case{"mlx-community/SmolLM2-135M-Instruct", "SmolLM 2 135M Instruct"}));

INSTANTIATE_TEST_SUITE_P(
    MoreShapes, DisplayNameTest,
    ::testing::Values(Case{"mlx-community/Qwen2.5-0.5B-Instruct-bf16", "Qwen 2.5 0.5B Instruct (BF16)"},
                      Case{"mlx-community/gemma-3-27b-it-qat-4bit", "Gemma 3 27B IT QAT (4-bit)"},
                      Case{"mlx-community/gemma3-1b-it-fp16", "Gemma 3 1B IT (FP16)"},
                      Case{"mlx-community/Qwen3-0.6B-MLX-mxfp4", "Qwen 3 0.6B (MXFP4)"},
                      Case{"mlx-community/SmolLM2-135m-instruct-f32", "SmolLM 2 135M Instruct (FP32)"},
                      Case{"mlx-community/DeepSeek-R1-Distill-Qwen-7B-4bit-dwq", "DeepSeek R1 Distill Qwen 7B DWQ (4-bit)"},
                      Case{"mlx-community/Mistral-Small-3.1-24B-Instruct-2503-8bit", "Mistral Small 3.1 24B Instruct 2503 (8-bit)"},
                      Case{"mlx-community/Qwen2-VL-2B-Instruct-mlx_6bit", "Qwen 2 VL 2B Instruct (6-bit)"},
                      Case{"mlx-community/Mixtral-8x7B-Instruct-v0.1-nvfp4", "Mixtral 8x7B Instruct v0.1 (NVFP4)"},
                      Case{"mlx-community/Qwen3-8B-MLX-4bit@main", "Qwen 3 8B (4-bit)"},
                      Case{"/models/SmolLM2-135M-Instruct-4bit", "SmolLM 2 135M Instruct (4-bit)"},
                      Case{"./models/SmolLM2-135M-Instruct-4bit/", "SmolLM 2 135M Instruct (4-bit)"},
                      Case{"owner/moe-model", "MoE Model"}));

}  // namespace
}  // namespace salut::store
