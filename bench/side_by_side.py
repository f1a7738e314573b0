#!/usr/bin/env python3
"""gemrt vs llama.cpp on the same GGUF files, same thread count, one run, interleaved.

llama.cpp runs in this process through llama-cpp-python's low-level API (the llama_decode calls
llama-bench makes: a prompt of N random tokens into an empty KV cache for pp, N single-token
decodes after an optional untimed prefill of D tokens for tg; one warm-up each). gemrt runs as
`gemrt bench FILE ... --json` with the same N / D, one repetition per call. For every repetition
the two engines alternate (llama.cpp pp, gemrt pp, llama.cpp tg, gemrt tg), so both see the same
machine state. The table gives mean ± sd tokens/s and the ratio gemrt / llama.cpp.

Setup (not part of CI; builds llama.cpp for this CPU, ~30 min on 2 cores):
    python3 -m venv ~/.cache/gemrt/llama-venv
    CMAKE_ARGS="-DGGML_NATIVE=ON" CMAKE_BUILD_PARALLEL_LEVEL=2 \\
        ~/.cache/gemrt/llama-venv/bin/pip install llama-cpp-python numpy gguf
On CPUs with AMX (Sapphire Rapids and later) the native build turns on llama.cpp's AMX int8 kernels,
which died with SIGILL on the 2026-12-07 VM; build it with every other feature and AMX off instead
(bench/RESULTS.md, session 8, has the CMAKE_ARGS).
Usage:
    ~/.cache/gemrt/llama-venv/bin/python bench/side_by_side.py FILE.gguf [FILE.gguf ...] \\
        [--threads 2] [-p 512] [-n 128] [-d 0] [-r 3] [--gemrt build/bin/gemrt] [--numerics fast]
"""
import argparse
import ctypes
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time

import numpy as np


def log(*a):
    print(*a, file=sys.stderr, flush=True)


class LlamaCpp:
    def __init__(self, path, threads, n_ctx, n_batch):
        import llama_cpp as L

        self.L = L
        L.llama_backend_init()
        mp = L.llama_model_default_params()
        self.model = L.llama_model_load_from_file(path.encode(), mp)
        if not self.model:
            raise SystemExit(f"llama.cpp could not load {path}")
        cp = L.llama_context_default_params()
        cp.n_ctx = n_ctx
        cp.n_batch = n_batch
        cp.n_ubatch = min(n_batch, 512)
        cp.n_threads = threads
        cp.n_threads_batch = threads
        self.ctx = L.llama_init_from_model(self.model, cp)
        self.mem = L.llama_get_memory(self.ctx)
        self.vocab = L.llama_vocab_n_tokens(L.llama_model_get_vocab(self.model))
        self.n_batch = n_batch

    def _decode(self, tokens):
        L = self.L
        for i in range(0, len(tokens), self.n_batch):
            chunk = tokens[i:i + self.n_batch]
            arr = (L.llama_token * len(chunk))(*chunk)
            rc = L.llama_decode(self.ctx, L.llama_batch_get_one(arr, len(chunk)))
            if rc != 0:
                raise SystemExit(f"llama_decode failed ({rc})")

    def pp(self, n, rng):
        self.L.llama_memory_clear(self.mem, True)
        toks = [int(t) for t in rng.integers(0, self.vocab, n)]
        t0 = time.perf_counter()
        self._decode(toks)
        self.L.llama_synchronize(self.ctx)
        return n / (time.perf_counter() - t0)

    def tg(self, n, depth, rng):
        self.L.llama_memory_clear(self.mem, True)
        if depth:
            self._decode([int(t) for t in rng.integers(0, self.vocab, depth)])
        toks = [int(t) for t in rng.integers(0, self.vocab, n)]
        self.L.llama_synchronize(self.ctx)
        t0 = time.perf_counter()
        for t in toks:
            self._decode([t])
        self.L.llama_synchronize(self.ctx)
        return n / (time.perf_counter() - t0)

    def close(self):
        self.L.llama_free(self.ctx)
        self.L.llama_model_free(self.model)


def gemrt_bench(args, path, p, n, d):
    cmd = [args.gemrt, "bench", path, "-p", str(p), "-n", str(n), "-d", str(d), "-r", "1", "--json",
           "--threads", str(args.threads)] + shlex.split(args.gemrt_flags)
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if out.returncode != 0:
        raise SystemExit("gemrt bench failed: %s\n%s" % (" ".join(cmd), out.stderr.decode()))
    j = json.loads(out.stdout)
    return j["tests"][0]["avg_ts"], j


def fmt(v):
    return "%.2f ± %.2f" % (statistics.mean(v), statistics.stdev(v) if len(v) > 1 else 0.0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("-p", "--n-prompt", type=int, default=512)
    ap.add_argument("-n", "--n-gen", type=int, default=128)
    ap.add_argument("-d", "--depth", type=int, default=0)
    ap.add_argument("-r", "--reps", type=int, default=3)
    ap.add_argument("--gemrt", default="build/bin/gemrt")
    ap.add_argument("--gemrt-flags", default="--numerics fast")
    args = ap.parse_args()

    import llama_cpp

    print("gemrt vs llama.cpp, side by side")
    print("command: " + " ".join(shlex.quote(a) for a in [sys.executable] + sys.argv))
    print("llama-cpp-python %s; llama.cpp system info: %s" % (
        llama_cpp.__version__, llama_cpp.llama_print_system_info().decode().strip()))
    print("machine: %s, %d CPUs; threads: %d; gemrt flags: %s" % (
        platform.processor() or platform.machine(), os.cpu_count(), args.threads, args.gemrt_flags))
    print()
    rows = []
    rng = np.random.default_rng(0)
    for path in args.files:
        name = os.path.basename(path)
        log("== %s" % name)
        ll = LlamaCpp(path, args.threads, n_ctx=max(args.n_prompt, args.depth + args.n_gen) + 16,
                      n_batch=max(args.n_prompt, 512))
        res = {k: [] for k in ("ll_pp", "g_pp", "ll_tg", "g_tg")}
        rss = 0
        # warm-up (both engines, both tests)
        if args.n_prompt:
            ll.pp(args.n_prompt, rng)
        if args.n_gen:
            ll.tg(min(args.n_gen, 8), args.depth, rng)
        for rep in range(args.reps):
            if args.n_prompt:
                res["ll_pp"].append(ll.pp(args.n_prompt, rng))
                v, j = gemrt_bench(args, path, args.n_prompt, 0, 0)
                res["g_pp"].append(v)
                rss = max(rss, j["peak_rss_bytes"])
            if args.n_gen:
                res["ll_tg"].append(ll.tg(args.n_gen, args.depth, rng))
                v, j = gemrt_bench(args, path, 0, args.n_gen, args.depth)
                res["g_tg"].append(v)
                rss = max(rss, j["peak_rss_bytes"])
            log("   rep %d: %s" % (rep + 1, ", ".join("%s %.1f" % (k, v[-1]) for k, v in res.items() if v)))
        ll.close()
        size = os.path.getsize(path) / 2**20
        if args.n_prompt:
            rows.append((name, size, "pp%d" % args.n_prompt, res["ll_pp"], res["g_pp"], rss))
        if args.n_gen:
            test = "tg%d" % args.n_gen + (" @ d%d" % args.depth if args.depth else "")
            rows.append((name, size, test, res["ll_tg"], res["g_tg"], rss))

    print("| file | MiB | test | llama.cpp t/s | gemrt t/s | gemrt / llama.cpp | gemrt peak RSS MiB |")
    print("|---|---:|---|---:|---:|---:|---:|")
    for name, size, test, ll, g, rss in rows:
        print("| %s | %.0f | %s | %s | %s | %.2f | %.0f |" % (
            name, size, test, fmt(ll), fmt(g), statistics.mean(g) / statistics.mean(ll), rss / 2**20))
    return 0


if __name__ == "__main__":
    sys.exit(main())
