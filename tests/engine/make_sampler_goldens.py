#!/usr/bin/env python3
"""What mlx-lm's logits processors and sampling filters make of fixed logits, for
tests/engine/sampler_test.cpp.

    .venv/bin/python tests/engine/make_sampler_goldens.py   # writes tests/data/engine/sampler_goldens.json

Each case: random logits (vocab 64), a token history and the parameters; then, as
mlx_lm.generate's generate_step does it, the logits after make_logits_processors(...), and the
log-probabilities (logits - logsumexp) after make_sampler's filters in its order (top_p, min_p,
XTC, top_k), before the temperature and the draw. XTC runs with probability 1 (always applied),
the only setting that does not depend on MLX's random state. -inf is written as null.
"""
import json
from pathlib import Path

import mlx.core as mx
import mlx_lm
from mlx_lm import sample_utils as su

OUT = Path(__file__).resolve().parents[1] / "data" / "engine" / "sampler_goldens.json"
VOCAB = 64

CASES = [
    {},
    {"top_p": 0.5}, {"top_p": 0.9}, {"top_p": 0.999},
    {"min_p": 0.05}, {"min_p": 0.3}, {"min_p": 0.3, "min_tokens_to_keep": 5},
    {"top_k": 1}, {"top_k": 5}, {"top_k": 40},
    {"xtc_probability": 1.0, "xtc_threshold": 0.05}, {"xtc_probability": 1.0, "xtc_threshold": 0.1},
    {"xtc_probability": 1.0, "xtc_threshold": 0.02, "xtc_special_tokens": [0, 1, 2, 3, 4, 5]},
    {"top_p": 0.9, "min_p": 0.05, "top_k": 10},
    {"top_p": 0.8, "xtc_probability": 1.0, "xtc_threshold": 0.05},
    {"min_p": 0.02, "xtc_probability": 1.0, "xtc_threshold": 0.03, "top_k": 8},
    {"logit_bias": {"3": 5.0, "7": -100.0, "60": 2.5}},
    {"repetition_penalty": 1.3}, {"repetition_penalty": 0.8, "repetition_context_size": 4},
    {"presence_penalty": 0.5}, {"frequency_penalty": 0.7}, {"frequency_penalty": -0.4, "frequency_context_size": 5},
    {"repetition_penalty": 1.2, "presence_penalty": 0.3, "frequency_penalty": 0.2, "logit_bias": {"10": 1.0},
     "top_p": 0.95, "top_k": 20},
]
SAMPLER_KEYS = ("top_p", "min_p", "min_tokens_to_keep", "top_k", "xtc_probability", "xtc_threshold",
                "xtc_special_tokens")


def as_list(a):
    return [None if v == float("-inf") else v for v in a.tolist()]


def main():
    mx.random.seed(7)
    cases = []
    for i, params in enumerate(CASES):
        for variant in range(3):
            logits = mx.random.normal((1, VOCAB)) * (1.5 + variant)
            history = mx.random.randint(0, VOCAB, (12 + 4 * variant,))
            history = mx.concatenate([history, history[:3]])  # some tokens repeat
            processors = su.make_logits_processors(
                logit_bias={int(k): v for k, v in params["logit_bias"].items()} if "logit_bias" in params else None,
                repetition_penalty=params.get("repetition_penalty"),
                repetition_context_size=params.get("repetition_context_size", 20),
                presence_penalty=params.get("presence_penalty"),
                presence_context_size=params.get("presence_context_size", 20),
                frequency_penalty=params.get("frequency_penalty"),
                frequency_context_size=params.get("frequency_context_size", 20))
            given = logits[0].tolist()  # before the processors: mlx-lm's write into their input
            processed = mx.array(logits)
            for p in processors:
                processed = p(history, processed)
            logprobs = processed - mx.logsumexp(processed, axis=-1, keepdims=True)
            kw = {k: params[k] for k in SAMPLER_KEYS if k in params}
            top_p, min_p, top_k = kw.get("top_p", 0.0), kw.get("min_p", 0.0), kw.get("top_k", 0)
            if 0 < top_p < 1.0:
                logprobs = su.apply_top_p(logprobs, top_p)
            if min_p != 0.0:
                logprobs = su.apply_min_p(logprobs, min_p, kw.get("min_tokens_to_keep", 1))
            if kw.get("xtc_probability", 0.0) > 0.0:
                logprobs = su.apply_xtc(logprobs, kw["xtc_probability"], kw["xtc_threshold"],
                                        kw.get("xtc_special_tokens", []))
            if top_k > 0:
                logprobs = su.apply_top_k(logprobs, top_k)
            cases.append({"params": params, "logits": given, "history": history.tolist(),
                          "processed": as_list(processed[0]), "filtered_logprobs": as_list(logprobs[0])})
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"generator": "tests/engine/make_sampler_goldens.py", "mlx": mx.__version__,
                               "mlx_lm": mlx_lm.__version__, "cases": cases}) + "\n")
    print(f"{len(cases)} cases -> {OUT}")


if __name__ == "__main__":
    main()
