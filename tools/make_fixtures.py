#!/usr/bin/env python3
"""Make the reference fixtures for salut's engine with the real mlx-lm.

  .venv/bin/python tools/make_fixtures.py [--out models/fixtures] [--force] [--only PATTERN]
                                          [--jobs N] [--smollm-native] [--check-convert]
                                          [--list]

Output (default models/fixtures/, git-ignored):
  <fixture>/            tiny random model saved as mlx-lm's convert saves it (config.json,
                        model.safetensors, model.safetensors.index.json) plus mlx-lm's outputs:
                        reference.json (prompts, argmax, greedy tokens, how it was run, stats)
                        and reference.safetensors (float32 logits, every prompt position)
  smollm2/              mlx-lm's greedy answers for models/SmolLM2-135M-Instruct-4bit
  index.json            every fixture: folder, arch, quantization, dtype, tie, diff numbers

Idempotent: a stamp (hash of these scripts, the fixture list and the mlx/mlx-lm versions) makes
a rerun instant; a changed fixture is rebuilt alone. See tools/README.md.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import os
import shutil
import signal
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from importlib import metadata
from multiprocessing import get_context
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
REPO = TOOLS.parent
sys.path.insert(0, str(TOOLS))

from fixtures import common, specs  # noqa: E402

DEFAULT_OUT = REPO / "models" / "fixtures"
STAMP = ".stamp"
FIXTURE_STAMP = ".fixture.stamp"
SMOLLM = "smollm2"
INDEX_FORMAT = 1


def log(msg: str) -> None:
    print(f"[make_fixtures] {msg}", flush=True)


# --------------------------------------------------------------------------- stamps


def source_digest() -> str:
    h = hashlib.sha256()
    for p in [Path(__file__).resolve(), *sorted((TOOLS / "fixtures").glob("*.py"))]:
        h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    for pkg in ("mlx", "mlx-lm"):
        try:
            h.update(f"{pkg}={metadata.version(pkg)}\0".encode())
        except metadata.PackageNotFoundError:
            h.update(f"{pkg}=missing\0".encode())
    return h.hexdigest()


def digest(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]


def smollm_source(model_dir: Path) -> str | None:
    """The demo model's identity (its own stamp), or None when it is missing/incomplete."""
    stamp = model_dir / ".make_demo_model.stamp"
    if not (stamp.is_file() and (model_dir / "config.json").is_file()):
        return None
    return stamp.read_text()


def smollm_has_native(out_root: Path) -> bool:
    try:
        ref = json.loads((out_root / SMOLLM / "reference.json").read_text())
    except (OSError, ValueError):
        return False
    return any("native" in p["runs"] for p in ref.get("prompts", []))


def read_stamp(folder: Path) -> str | None:
    try:
        return json.loads((folder / FIXTURE_STAMP).read_text())["stamp"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


# --------------------------------------------------------------------------- worker side


def _worker_init(tools_dir: str) -> None:
    if tools_dir not in sys.path:
        sys.path.insert(0, tools_dir)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import mlx.core  # noqa: F401  (pay the import once per worker)
    import mlx_lm  # noqa: F401


def _task_tiny(spec: dict, out_root: str, stamp: str) -> tuple[str, dict, float, float]:
    from fixtures import tiny
    t, c = time.time(), time.process_time()
    entry = tiny.make(spec, Path(out_root), stamp)
    return spec["name"], entry, time.time() - t, time.process_time() - c


def _task_smollm(model_dir: str, index: int, messages: list, max_tokens: int,
                 native: bool) -> tuple[str, dict, float, float]:
    from fixtures import smollm
    t, c = time.time(), time.process_time()
    res = smollm.run_prompt(model_dir, index, messages, max_tokens, native)
    return f"{SMOLLM}/prompt{index}", res, time.time() - t, time.process_time() - c


# --------------------------------------------------------------------------- smollm output


def write_smollm(out_root: Path, model_dir: Path, results: list[dict], stamp: str,
                 native: bool) -> dict:
    import numpy as np
    from safetensors.numpy import save_file

    results = sorted(results, key=lambda r: r["index"])
    work = out_root / f".{SMOLLM}.partial"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    tensors = {}
    prompts = []
    for r in results:
        i = r["index"]
        entry = {k: r[k] for k in ("messages", "prompt_text", "prompt_ids", "eos_token_ids")}
        entry["runs"] = {}
        for run, g in r["runs"].items():
            tensors[f"{run}.first_logits.prompt{i}"] = np.ascontiguousarray(g["first_logits"],
                                                                           np.float32)
            entry["runs"][run] = {k: v for k, v in g.items() if k != "first_logits"}
        if "native" in r["runs"]:
            a = r["runs"]["f32"]["first_logits"].astype(np.float64)
            b = r["runs"]["native"]["first_logits"].astype(np.float64)
            rng = a.max() - a.min()
            ta, tb = r["runs"]["f32"]["tokens"], r["runs"]["native"]["tokens"]
            n = min(len(ta), len(tb))
            prefix = next((j for j in range(n) if ta[j] != tb[j]), n)
            entry["native_vs_f32"] = {
                "first_step_max_abs_diff": common.fnum(np.abs(a - b).max()),
                "first_step_max_rel_to_range": common.fnum(np.abs(a - b).max() / rng),
                "first_token_agrees": bool(a.argmax() == b.argmax()),
                "greedy_common_prefix": prefix,
                "native_tokens": len(tb),
                "seconds_f32": r["runs"]["f32"]["seconds_total"],
                "seconds_native": r["runs"]["native"]["seconds_total"],
            }
        prompts.append(entry)
    save_file(tensors, str(work / "reference.safetensors"))
    (work / "reference.safetensors").chmod(0o644)
    model_cfg = json.loads((model_dir / "config.json").read_text())
    ref = {
        "format": 1,
        "model": str(model_dir.relative_to(REPO) if model_dir.is_relative_to(REPO) else model_dir),
        "model_stamp": json.loads(smollm_source(model_dir) or "{}"),
        "dtype": model_cfg.get("torch_dtype"),
        "quantization": model_cfg.get("quantization"),
        "mlx_version": results[0]["mlx_version"],
        "mlx_lm_version": results[0]["mlx_lm_version"],
        "max_tokens": specs.SMOLLM_MAX_TOKENS,
        "how": {
            "load": "model, tokenizer = mlx_lm.load(model folder)",
            "prompt": ("tokenizer.apply_chat_template(messages, add_generation_prompt=True) -> "
                       "prompt_ids (the template adds SmolLM2's default system prompt when the "
                       "messages have none)"),
            "generation": ("mlx_lm.generate.generate_step(prompt_ids, model, max_tokens, "
                           "sampler=make_sampler(temp=0.0), prompt_cache=make_prompt_cache(model))"
                           ", stopped at the first EOS like mlx_lm.generate (EOS not included in "
                           "tokens/text; finish_reason 'stop'), else 'length' after max_tokens"),
            "f32": ("every floating parameter (f16 scales/biases/norms) cast to float32 after "
                    "loading (lossless; 4-bit words untouched) -> float32 activations"),
            "native": ("the float16 model as loaded (float16 activations); only with "
                       "--smollm-native, for prompt 0 and at most 8 tokens: MLX's CPU "
                       "float16 quantized matmul is ~35x slower than float32"),
            "first_logits": ("<run>.first_logits.prompt<i> [vocab] float32 in "
                             "reference.safetensors: the logits the first token was picked "
                             "from (prefill prompt[:-1], then the last prompt token with the "
                             "KV cache)"),
            "top_ids/top_logits": "per generated step (incl. a final EOS step): top-5 token IDs "
                                  "and their logits, to judge near-ties",
        },
        "prompts": prompts,
    }
    common.write_json(work / "reference.json", ref, indent=1)
    common.write_json(work / FIXTURE_STAMP, {"stamp": stamp}, indent=None)
    common.swap_in(work, out_root / SMOLLM)
    return smollm_index_entry(ref, out_root)


def smollm_index_entry(ref: dict, out_root: Path) -> dict:
    folder = out_root / SMOLLM
    entry = {
        "folder": SMOLLM,
        "model": ref["model"],
        "arch": "llama",
        "quantization": ref["quantization"],
        "dtype": ref["dtype"],
        "runs": sorted({r for p in ref["prompts"] for r in p["runs"]}),
        "prompts": len(ref["prompts"]),
        "tokens": [len(p["runs"]["f32"]["tokens"]) for p in ref["prompts"]],
        "finish_reasons": [p["runs"]["f32"]["finish_reason"] for p in ref["prompts"]],
        "min_top2_margin": min(
            (common.fnum(t[0] - t[1]) for p in ref["prompts"]
             for t in p["runs"]["f32"]["top_logits"]), default=None),
        "bytes": sum(p.stat().st_size for p in folder.iterdir() if p.is_file()),
    }
    nv = [p["native_vs_f32"] for p in ref["prompts"] if "native_vs_f32" in p]
    if nv:
        entry["native_vs_f32"] = {
            "first_step_max_rel_to_range": max(x["first_step_max_rel_to_range"] for x in nv),
            "first_token_agrees": all(x["first_token_agrees"] for x in nv),
            "greedy_common_prefix": [x["greedy_common_prefix"] for x in nv],
            "seconds_f32": sum(x["seconds_f32"] for x in nv),
            "seconds_native": sum(x["seconds_native"] for x in nv),
        }
    return entry


# --------------------------------------------------------------------------- index


def write_index(out_root: Path, all_specs: list[dict], smollm_state: dict) -> dict:
    from fixtures.tiny import index_entry
    entries = []
    for spec in all_specs:
        f = out_root / spec["name"] / "reference.json"
        if f.is_file():
            entries.append(index_entry(json.loads(f.read_text()), out_root))
    summary = {
        "fixtures": len(entries),
        "expected": len(all_specs),
        "bytes": sum(e["bytes"] for e in entries),
        "problems": {e["folder"]: e["problems"] for e in entries if e["problems"]},
    }
    for dt in ("float16", "bfloat16"):
        sel = [e["native_vs_f32"] for e in entries if e["dtype"] == dt and "native_vs_f32" in e]
        if sel:
            summary[f"native_vs_f32_{dt}"] = {
                "fixtures": len(sel),
                "worst_max_rel_to_range": max(x["max_rel_to_range"] for x in sel),
                "median_max_rel_to_range": sorted(x["max_rel_to_range"] for x in sel)[len(sel) // 2],
                "argmax_agree": sum(x["argmax_agree"] for x in sel),
                "positions": sum(x["positions"] for x in sel),
                "greedy_identical": sum(1 for x in sel if x["greedy_identical"]),
            }
    smollm_entry = None
    ref = out_root / SMOLLM / "reference.json"
    if smollm_state.get("skipped"):
        smollm_entry = {"skipped": smollm_state["skipped"]}
    elif ref.is_file():
        smollm_entry = smollm_index_entry(json.loads(ref.read_text()), out_root)
        summary["bytes"] += smollm_entry["bytes"]
    index = {
        "format": INDEX_FORMAT,
        "generator": "tools/make_fixtures.py",
        "mlx_version": metadata.version("mlx"),
        "mlx_lm_version": metadata.version("mlx-lm"),
        "prompt_lengths": list(specs.PROMPT_LENGTHS),
        "gen_tokens": specs.GEN_TOKENS,
        "reference_run": ("'f32' in every fixture: float32 activations (float16/bfloat16 "
                          "parameters widened losslessly); 'native' too where the model's dtype "
                          "is float16/bfloat16 (MLX computing in that dtype)"),
        "diff_definition": ("max_rel_to_range = worst over prompt positions of "
                            "max|native - f32| / (max - min of the f32 logits at that position)"),
        "summary": summary,
        "fixtures": entries,
        "smollm2": smollm_entry,
    }
    common.write_json(out_root / "index.json", index, indent=1)
    return index


# --------------------------------------------------------------------------- main


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT,
                    help="output folder (default models/fixtures)")
    ap.add_argument("--force", action="store_true", help="rebuild even what is up to date")
    ap.add_argument("--only", metavar="PATTERN", action="append",
                    help="only fixtures whose name matches this glob (repeatable; "
                         "'smollm2' for the SmolLM2 references)")
    ap.add_argument("--jobs", type=int, default=None,
                    help="worker processes (default: one per CPU, at most 8; 1 = in this "
                         "process)")
    ap.add_argument("--smollm-native", action="store_true",
                    help="also run SmolLM2's first prompt natively in float16 (its whole "
                         "answer, 8 tokens at most; about 6 minutes on a 2-core box: MLX's CPU "
                         "float16 quantized matmul is ~35x slower than float32)")
    ap.add_argument("--check-convert", action="store_true",
                    help="also rebuild a few fixtures with mlx_lm.convert itself and check "
                         "they are identical (tensors and config.json)")
    ap.add_argument("--list", action="store_true", help="print the fixture names and exit")
    args = ap.parse_args(argv)

    all_specs = specs.fixtures()
    if args.list:
        for s in all_specs:
            print(s["name"])
        print(SMOLLM)
        return 0

    t_start = time.time()
    out_root = args.out.resolve()
    src = source_digest()
    model_dir = (REPO / specs.SMOLLM_DIR).resolve()
    smollm_src = smollm_source(model_dir)
    stamps = {s["name"]: digest(src, s) for s in all_specs}
    smollm_stamp = (digest(src, "smollm2", smollm_src, specs.SMOLLM_PROMPTS,
                           specs.SMOLLM_MAX_TOKENS) if smollm_src else None)
    global_stamp = digest(src, sorted(stamps.items()), smollm_stamp or "missing")

    def selected(name: str) -> bool:
        return not args.only or any(fnmatch.fnmatchcase(name, p) for p in args.only)

    # Fast path: everything up to date -> no mlx import, a few dozen stat/reads.
    if not (args.force or args.only or args.check_convert
            or (args.smollm_native and smollm_src and not smollm_has_native(out_root))):
        try:
            ok = json.loads((out_root / STAMP).read_text()).get("stamp") == global_stamp
        except (OSError, ValueError, AttributeError):
            ok = False
        if ok and all(read_stamp(out_root / n) == st for n, st in stamps.items()) and \
                (smollm_stamp is None or read_stamp(out_root / SMOLLM) == smollm_stamp):
            log(f"{out_root} is up to date ({len(all_specs)} fixtures"
                f"{' + smollm2' if smollm_stamp else ''}); --force rebuilds")
            return 0

    todo = [s for s in all_specs if selected(s["name"])
            and (args.force or read_stamp(out_root / s["name"]) != stamps[s["name"]])]
    do_smollm = False
    smollm_state: dict = {}
    if selected(SMOLLM):
        if smollm_src is None:
            msg = (f"{specs.SMOLLM_DIR} is missing or incomplete: SmolLM2 references skipped "
                   "(scripts/setup.sh or tools/make_demo_model.py makes it)")
            log(msg)
            smollm_state["skipped"] = msg
        elif (args.force or read_stamp(out_root / SMOLLM) != smollm_stamp
              or (args.smollm_native and not smollm_has_native(out_root))):
            do_smollm = True
    elif smollm_src is None:
        smollm_state["skipped"] = f"{specs.SMOLLM_DIR} is missing"

    out_root.mkdir(parents=True, exist_ok=True)
    jobs = args.jobs or max(1, min(8, len(os.sched_getaffinity(0))))
    n_tasks = len(todo) + (len(specs.SMOLLM_PROMPTS) if do_smollm else 0)
    log(f"{len(todo)} tiny fixtures{' + smollm2 (%d prompts)' % len(specs.SMOLLM_PROMPTS) if do_smollm else ''}"
        f" to make with {jobs} job(s) -> {out_root}")

    failures: list[str] = []
    smollm_results: list[dict] = []
    done = 0

    cpu_total = 0.0

    def report(name: str, seconds: float, cpu: float, extra: str = "") -> None:
        nonlocal done, cpu_total
        done += 1
        cpu_total += cpu
        log(f"[{done}/{n_tasks}] {name} {seconds:.1f}s (cpu {cpu:.1f}s){extra}")

    # Longest first: SmolLM2 prompts, then half-precision fixtures (two runs, slow kernels).
    cost = {"float16": 0, "bfloat16": 1, "float32": 2}
    todo.sort(key=lambda s: (cost[s["dtype"]], s["name"]))
    tasks = []
    if do_smollm:
        for i, msgs in enumerate(specs.SMOLLM_PROMPTS):
            tasks.append((_task_smollm, (str(model_dir), i, msgs, specs.SMOLLM_MAX_TOKENS,
                                         args.smollm_native and i == 0)))
    for s in todo:
        tasks.append((_task_tiny, (s, str(out_root), stamps[s["name"]])))

    def handle(fn, a, result):
        name, payload, secs, cpu = result
        if fn is _task_smollm:
            smollm_results.append(payload)
            f = payload["runs"]["f32"]
            report(name, secs, cpu, f" ({len(payload['prompt_ids'])} prompt tokens, "
                               f"{len(f['tokens'])} generated, {f['finish_reason']})")
        else:
            extra = ""
            if "native_vs_f32" in payload:
                c = payload["native_vs_f32"]
                extra = (f" (native vs f32: {100 * c['max_rel_to_range']:.2f}% of range, "
                         f"argmax {c['argmax_agree']}/{c['positions']})")
            if payload["problems"]:
                extra += f" PROBLEMS: {payload['problems']}"
                failures.append(f"{name}: {payload['problems']}")
            report(name, secs, cpu, extra)

    if tasks:
        if jobs <= 1:
            _worker_init(str(TOOLS))
            for fn, a in tasks:
                try:
                    handle(fn, a, fn(*a))
                except Exception as e:  # noqa: BLE001
                    what = a[0]["name"] if fn is _task_tiny else f"{SMOLLM}/prompt{a[1]}"
                    failures.append(f"{what}: {e!r}")
                    log(f"FAILED {what}: {e!r}")
        else:
            def on_term(signum, frame):
                raise KeyboardInterrupt

            signal.signal(signal.SIGTERM, on_term)
            ctx = get_context("spawn")
            pool = ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=ctx,
                                       initializer=_worker_init, initargs=(str(TOOLS),))
            try:
                futs = {pool.submit(fn, *a): (fn, a) for fn, a in tasks}
                for fut in as_completed(futs):
                    fn, a = futs[fut]
                    try:
                        handle(fn, a, fut.result())
                    except Exception as e:  # noqa: BLE001
                        what = a[0]["name"] if fn is _task_tiny else f"{SMOLLM}/prompt{a[1]}"
                        failures.append(f"{what}: {e!r}")
                        log(f"FAILED {what}: {e!r}")
            except KeyboardInterrupt:
                # Stop our own workers now instead of finishing the queue; their half-built
                # folders are .partial and get rebuilt next time.
                procs = list((getattr(pool, "_processes", None) or {}).values())
                pool.shutdown(wait=False, cancel_futures=True)
                for p in procs:
                    p.terminate()
                log("interrupted")
                return 130
            pool.shutdown(wait=True)

    if do_smollm:
        if len(smollm_results) == len(specs.SMOLLM_PROMPTS):
            write_smollm(out_root, model_dir, smollm_results, smollm_stamp, args.smollm_native)
        else:
            failures.append("smollm2: not every prompt finished; nothing written")

    # Leftovers of interrupted runs, and (full runs only) folders from an older fixture list.
    names = set(stamps) | {SMOLLM}
    for d in out_root.iterdir():
        if not d.is_dir():
            continue
        if d.name.startswith(".") and d.name.endswith((".partial", ".old")):
            shutil.rmtree(d, ignore_errors=True)
        elif not args.only and d.name not in names and (d / FIXTURE_STAMP).exists():
            shutil.rmtree(d)
            log(f"removed stale fixture {d.name}")

    if args.check_convert:
        from fixtures import convert_check
        _worker_init(str(TOOLS))
        failures += convert_check.run(all_specs, log)

    index = write_index(out_root, all_specs, smollm_state)
    complete = (not failures and index["summary"]["fixtures"] == len(all_specs)
                and all(read_stamp(out_root / n) == st for n, st in stamps.items())
                and (smollm_stamp is None or read_stamp(out_root / SMOLLM) == smollm_stamp))
    stamp_file = out_root / STAMP
    if complete:
        common.write_json(stamp_file, {"stamp": global_stamp}, indent=None)
    else:
        stamp_file.unlink(missing_ok=True)

    s = index["summary"]
    log(f"index: {s['fixtures']}/{s['expected']} fixtures"
        f"{' + smollm2' if index['smollm2'] and 'skipped' not in index['smollm2'] else ''}, "
        f"{s['bytes'] / 2**20:.1f} MiB")
    for dt in ("float16", "bfloat16"):
        k = f"native_vs_f32_{dt}"
        if k in s:
            x = s[k]
            log(f"{dt} models, native vs f32 activations: worst {100 * x['worst_max_rel_to_range']:.2f}%"
                f" of the logit range (median {100 * x['median_max_rel_to_range']:.2f}%), argmax "
                f"{x['argmax_agree']}/{x['positions']}, greedy identical in "
                f"{x['greedy_identical']}/{x['fixtures']}")
    if failures:
        for f in failures:
            log(f"error: {f}")
        log(f"FAILED ({len(failures)}) after {time.time() - t_start:.1f}s")
        return 1
    log(f"done in {time.time() - t_start:.1f}s (tasks: {cpu_total:.0f} cpu-seconds)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
