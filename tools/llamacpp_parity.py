#!/usr/bin/env python3
"""Parity check of gemrt against llama.cpp (via llama-cpp-python) on a GGUF model.

Not part of CI. Needs a Python environment with llama-cpp-python, numpy and
safetensors, e.g.:

    python3 -m venv /root/.cache/gemrt/llama-venv
    CMAKE_BUILD_PARALLEL_LEVEL=2 /root/.cache/gemrt/llama-venv/bin/pip install \
        llama-cpp-python numpy safetensors
    /root/.cache/gemrt/llama-venv/bin/python tools/llamacpp_parity.py \
        --model /root/.cache/gemrt/gemma-3-270m-q4_k_m.gguf \
        --gemrt build/bin/gemrt

For each of 20 prompts (raw completions and chat-formatted, several languages,
code, math, lists):

* the prompt is tokenized by llama.cpp (and by gemrt, to report whether the
  tokenizers agree); both engines are fed llama.cpp's ids;
* llama.cpp decodes N (32) tokens greedily; the argmax of its logits is taken
  here (ties -> lowest id), with no stop on EOS;
* gemrt is teacher-forced along that continuation on llama.cpp's schedule
  (`gemrt logits --prefill P`: the prompt as one batch, then the continuation
  one token at a time, as llama.cpp produced it) and its next-token top-1 is
  compared with llama.cpp's token at every position;
* both engines are also teacher-forced along the same sequence in one batch,
  and their logit rows compared (identical rows, top-1 agreement);
* gemrt decodes N tokens greedily on its own (`gemrt generate`) and the
  continuation is compared with llama.cpp's.

Acceptance: top-1 agreement >= 98% over all positions and identical greedy
continuations for >= 15 of 20 prompts. Exits 1 when not met (after printing
everything).
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time

import numpy as np
from safetensors.numpy import load_file

# (kind, language, prompt). Raw prompts are text; chat prompts are message lists.
PROMPTS = [
    ("raw", "en", "The capital of France is"),
    ("raw", "fr", "La recette traditionnelle de la ratatouille commence par"),
    ("raw", "de", "Die Geschichte der Stadt Berlin beginnt im"),
    ("raw", "py", 'def fibonacci(n):\n    """Return the n-th Fibonacci number."""\n'),
    ("raw", "c", "#include <stdio.h>\n\nint main(void) {\n"),
    ("raw", "zh", "中国的首都是北京。北京是一个"),
    ("raw", "ja", "東京は日本の首都です。東京には"),
    ("raw", "math", "Question: What is 12 * 7?\nAnswer:"),
    ("raw", "list", "Shopping list:\n1. Milk\n2. Eggs\n3."),
    ("raw", "ru", "Москва — столица России. Это город"),
    ("chat", "en", [{"role": "user", "content": "Write a haiku about the ocean."}]),
    ("chat", "fr", [{"role": "user", "content": "Bonjour ! Peux-tu m'expliquer la photosynthèse en deux phrases ?"}]),
    ("chat", "de", [{"role": "user", "content": "Was ist der Unterschied zwischen einem Apfel und einer Birne?"}]),
    ("chat", "es", [{"role": "user", "content": "¿Cuál es la montaña más alta del mundo?"}]),
    ("chat", "zh", [{"role": "user", "content": "请用一句话介绍一下长城。"}]),
    ("chat", "ja", [{"role": "user", "content": "猫についての短い詩を書いてください。"}]),
    ("chat", "ru", [{"role": "user", "content": "Расскажи коротко о Льве Толстом."}]),
    ("chat", "js", [
        {"role": "system", "content": "You are a concise coding assistant."},
        {"role": "user", "content": "Write a JavaScript function that reverses a string."},
    ]),
    ("chat", "math", [{"role": "user", "content": "What is the derivative of x^3 + 2x?"}]),
    ("chat", "list", [
        {"role": "user", "content": "Name three primary colors."},
        {"role": "assistant", "content": "Red, blue, and yellow."},
        {"role": "user", "content": "Now list three secondary colors."},
    ]),
]


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def run(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        raise RuntimeError("command failed (%d): %s\n%s" % (
            p.returncode, " ".join(shlex.quote(c) for c in cmd), p.stderr.decode(errors="replace")))
    return p.stdout


def argmax_low(row):
    # np.argmax returns the first (lowest) index among ties.
    return int(np.argmax(row))


def top1_margin(row):
    i = int(np.argmax(row))
    top = row[i]
    rest = np.delete(row, i)
    return float(top - rest.max())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="GGUF model file")
    ap.add_argument("--gemrt", default="build/bin/gemrt", help="gemrt binary")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("-n", "--tokens", type=int, default=32, help="greedy continuation length")
    ap.add_argument("--n-ctx", type=int, default=256)
    ap.add_argument("--min-agreement", type=float, default=98.0, help="top-1 agreement bar, percent")
    ap.add_argument("--min-identical", type=int, default=15, help="identical-continuation bar")
    ap.add_argument("--only", type=str, default="", help="comma-separated prompt numbers (1-based) to run")
    ap.add_argument("--gemrt-flags", default="--numerics fast",
                    help="extra flags for `gemrt logits` / `gemrt generate` (default: llama.cpp's numerics: "
                         "activations rounded to the weights' partner types, f16 KV cache)")
    ap.add_argument("--dump-dir", default="", help="keep gemrt logits / llama.cpp logits here (npz)")
    args = ap.parse_args()

    import llama_cpp
    from llama_cpp import Llama

    N = args.tokens
    G = args.gemrt
    M = args.model
    T = str(args.threads)

    log("loading llama.cpp model ...")
    llm = Llama(model_path=M, n_ctx=args.n_ctx, n_batch=args.n_ctx, n_threads=args.threads,
                n_threads_batch=args.threads, logits_all=True, verbose=False, seed=0)
    V = llm.n_vocab()

    selected = list(range(len(PROMPTS)))
    if args.only:
        selected = [int(x) - 1 for x in args.only.split(",")]

    tmp = tempfile.mkdtemp(prefix="llamacpp_parity_")
    rows = []
    details = []
    t_start = time.time()
    for idx in selected:
        kind, lang, prompt = PROMPTS[idx]
        log("[%d/%d] %s %s ..." % (idx + 1, len(PROMPTS), kind, lang))
        # --- prompt text
        if kind == "chat":
            mpath = os.path.join(tmp, "messages_%d.json" % idx)
            with open(mpath, "w", encoding="utf-8") as f:
                json.dump(prompt, f, ensure_ascii=False)
            text = run([G, "template", "--model", M, "--messages", mpath,
                        "--add-generation-prompt"]).decode("utf-8")
            add_bos = False
        else:
            text = prompt
            add_bos = True

        # --- token ids (llama.cpp's are fed to both engines)
        ids = list(llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True))
        gcmd = [G, "tokenize", "--model", M, "--text", text]
        if add_bos:
            gcmd.append("--add-special")
        g_ids = json.loads(run(gcmd).decode())
        tok_agree = (g_ids == ids)
        Tp = len(ids)

        # --- llama.cpp greedy continuation (argmax taken here)
        llm.reset()
        llm.eval(ids)
        cont, margins = [], []
        for i in range(N):
            row = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float32)
            tok = argmax_low(row)
            cont.append(tok)
            margins.append(top1_margin(row))
            if i < N - 1:
                llm.eval([tok])
        # llama.cpp logits of every position fed (prompt + first N-1 continuation tokens)
        l_logits = np.array(llm.scores[:Tp + N - 1], dtype=np.float32)

        # --- llama.cpp against itself (the noise floor of both criteria): the same sequence
        # teacher-forced in one batch (a different kernel path than its one-token decode steps),
        # and its greedy continuation when the prompt is fed one token at a time.
        forced = ids + cont[:N - 1]
        llm.reset()
        llm.eval(forced)
        l_tf = np.array(llm.scores[:Tp + N - 1], dtype=np.float32)
        l_tf_top1 = [argmax_low(l_tf[Tp - 1 + i]) for i in range(N)]
        self_agree = sum(1 for i in range(N) if l_tf_top1[i] == cont[i])
        llm.reset()
        for t in ids:
            llm.eval([t])
        cont_tbt = []
        for i in range(N):
            tok = argmax_low(np.array(llm.scores[llm.n_tokens - 1], dtype=np.float32))
            cont_tbt.append(tok)
            if i < N - 1:
                llm.eval([tok])
        self_identical = cont_tbt == cont

        # --- gemrt teacher-forced along llama.cpp's continuation, on llama.cpp's schedule (prompt
        # in one batch, continuation one token at a time), and in one batch like l_tf
        out = os.path.join(tmp, "logits_%d.safetensors" % idx)
        run([G, "logits", "--model", M, "--ids", ",".join(map(str, forced)), "--prefill", str(Tp), "--out", out,
             "--threads", T] + shlex.split(args.gemrt_flags))
        g_logits = load_file(out)["logits"].astype(np.float32)
        assert g_logits.shape == (Tp + N - 1, V), (g_logits.shape, Tp + N - 1, V)
        run([G, "logits", "--model", M, "--ids", ",".join(map(str, forced)), "--out", out, "--threads", T]
            + shlex.split(args.gemrt_flags))
        g_batch = load_file(out)["logits"].astype(np.float32)
        batch_exact = int(np.sum(np.all(g_batch == l_tf, axis=1)))
        sched_exact = int(np.sum(np.all(g_logits == l_logits, axis=1)))
        agree = 0
        agree_tf = 0  # gemrt's top-1 equal to llama.cpp's top-1 on the same batch of inputs
        misses = []
        for i in range(N):
            r = g_logits[Tp - 1 + i]
            gp = argmax_low(r)
            if argmax_low(g_batch[Tp - 1 + i]) == l_tf_top1[i]:
                agree_tf += 1
            if gp == cont[i]:
                agree += 1
            else:
                misses.append((i, cont[i], gp, margins[i], float(r[gp] - r[cont[i]])))
        # full-logit comparison per row (relative L2 error against llama.cpp)
        diff = g_logits - l_logits
        rel = np.linalg.norm(diff, axis=1) / np.maximum(np.linalg.norm(l_logits, axis=1), 1e-30)
        maxabs = np.abs(diff).max(axis=1)
        if args.dump_dir:
            os.makedirs(args.dump_dir, exist_ok=True)
            np.savez_compressed(os.path.join(args.dump_dir, "prompt_%02d.npz" % (idx + 1)),
                                ids=np.array(forced), gemrt=g_logits, llamacpp=l_logits)
        os.remove(out)

        # --- gemrt free greedy
        gen_out = run([G, "generate", "--model", M, "--ids", ",".join(map(str, ids)),
                       "-n", str(N), "--threads", T] + shlex.split(args.gemrt_flags)).decode()
        g_cont = [int(x) for x in gen_out.split()]
        identical = g_cont == cont
        first_div = None
        if not identical:
            first_div = next((i for i in range(min(len(g_cont), N)) if g_cont[i] != cont[i]), min(len(g_cont), N))

        rows.append(dict(n=idx + 1, kind=kind, lang=lang, tp=Tp, agree=agree, identical=identical,
                         agree_tf=agree_tf, self_agree=self_agree, self_identical=self_identical,
                         rows_total=Tp + N - 1, sched_exact=sched_exact, batch_exact=batch_exact,
                         first_div=first_div, tok_agree=tok_agree, min_margin=min(margins),
                         rel_mean=float(rel.mean()), rel_max=float(rel.max()), maxabs=float(maxabs.max())))
        details.append(dict(n=idx + 1, kind=kind, lang=lang, text=text, ids=ids, g_ids=g_ids, cont=cont,
                            g_cont=g_cont, margins=margins, misses=misses,
                            cont_text=llm.detokenize(cont).decode("utf-8", errors="replace"),
                            g_text=llm.detokenize(g_cont).decode("utf-8", errors="replace")))
        log("    agree %d/%d identical %s rel_mean %.2e (%.0fs elapsed)" % (
            agree, N, identical, rel.mean(), time.time() - t_start))

    # ------------------------------------------------------------------ report
    print("gemrt vs llama.cpp parity")
    print("command: " + " ".join(shlex.quote(a) for a in [sys.executable] + sys.argv))
    print("llama-cpp-python version: %s" % llama_cpp.__version__)
    print("model: %s" % M)
    print("gemrt: %s %s" % (G, args.gemrt_flags))
    print("continuation length: %d, threads: %d, vocab: %d" % (N, args.threads, V))
    print("tie rule: argmax, ties -> lowest id; no stop on EOS; both engines fed llama.cpp's prompt ids")
    print()
    hdr = "%3s %-5s %-5s %6s %8s %5s %6s %5s %10s %10s %10s %9s %8s %8s %6s %9s %9s" % (
        "#", "kind", "lang", "p_tok", "top1", "ident", "1stdiv", "tok=", "min_margin",
        "rel_mean", "rel_max", "max|dl|", "top1_tf", "ll_self", "ll_id", "exact", "exact_tf")
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        print("%3d %-5s %-5s %6d %5d/%-2d %5s %6s %5s %10.3f %10.2e %10.2e %9.3f %5d/%-2d %5d/%-2d %6s %5d/%-3d %5d/%-3d" % (
            r["n"], r["kind"], r["lang"], r["tp"], r["agree"], N, "y" if r["identical"] else "n",
            "-" if r["first_div"] is None else str(r["first_div"]), "y" if r["tok_agree"] else "n",
            r["min_margin"], r["rel_mean"], r["rel_max"], r["maxabs"], r["agree_tf"], N, r["self_agree"], N,
            "y" if r["self_identical"] else "n", r["sched_exact"], r["rows_total"], r["batch_exact"], r["rows_total"]))
    print()
    print("columns: p_tok = prompt tokens (llama.cpp); top1 = gemrt teacher-forced next-token top-1 equal to")
    print("llama.cpp's greedy token (both on llama.cpp's schedule: prompt batch, then one token at a time); ident = gemrt's free greedy continuation identical; 1stdiv = index of the")
    print("first differing token; tok= = gemrt tokenizer gives llama.cpp's ids; min_margin = smallest llama.cpp")
    print("top1-top2 logit gap over the 32 steps; rel_mean/rel_max = relative L2 error of gemrt's logit rows vs")
    print("llama.cpp's over all prompt+continuation positions; max|dl| = max abs logit difference;")
    print("top1_tf = gemrt's top-1 equal to llama.cpp's top-1 when llama.cpp is teacher-forced on the same")
    print("sequence in one batch (same inputs, same batch shape for both engines); ll_self = llama.cpp's own")
    print("batch teacher-forced top-1 equal to its greedy (decode-step) tokens; ll_id = llama.cpp's greedy")
    print("continuation unchanged when it is fed the prompt one token at a time. ll_self and ll_id measure")
    print("how far llama.cpp moves from itself when only its kernel path changes: the noise floor.")
    print("exact = logit rows bit-identical to llama.cpp's on its schedule; exact_tf = the same for the one-batch")
    print("teacher-forced run.")
    print()

    print("details:")
    for d in details:
        print("#%d %s %s prompt=%r" % (d["n"], d["kind"], d["lang"], d["text"]))
        if d["ids"] != d["g_ids"]:
            print("   tokenizer mismatch: llama.cpp %s" % d["ids"])
            print("                       gemrt     %s" % d["g_ids"])
        print("   llama.cpp: %r" % d["cont_text"])
        if d["g_cont"] != d["cont"]:
            print("   gemrt:     %r" % d["g_text"])
        for (i, lt, gt, lm, gm) in d["misses"]:
            print("   top-1 miss at step %d: llama.cpp %d (margin %.4f), gemrt %d (gemrt prefers it by %.4f)" % (
                i, lt, lm, gt, gm))
    print()

    total = N * len(rows)
    agree_total = sum(r["agree"] for r in rows)
    ident_total = sum(1 for r in rows if r["identical"])
    tok_total = sum(1 for r in rows if r["tok_agree"])
    pct = 100.0 * agree_total / max(total, 1)
    print("TOTAL top-1 agreement (teacher-forced): %d/%d = %.2f%% (bar >= %.1f%%)" % (
        agree_total, total, pct, args.min_agreement))
    print("TOTAL identical greedy continuations: %d/%d (bar >= %d)" % (ident_total, len(rows), args.min_identical))
    print("TOTAL tokenizer agreement: %d/%d" % (tok_total, len(rows)))
    tf_total = sum(r["agree_tf"] for r in rows)
    self_total = sum(r["self_agree"] for r in rows)
    self_ident = sum(1 for r in rows if r["self_identical"])
    print("TOTAL top-1 agreement with llama.cpp teacher-forced in one batch (same inputs): %d/%d = %.2f%%" % (
        tf_total, total, 100.0 * tf_total / max(total, 1)))
    rows_all = sum(r["rows_total"] for r in rows)
    print("TOTAL logit rows bit-identical to llama.cpp: %d/%d on its schedule, %d/%d in one batch" % (
        sum(r["sched_exact"] for r in rows), rows_all, sum(r["batch_exact"] for r in rows), rows_all))
    print("NOISE FLOOR llama.cpp batch teacher-forced vs its own greedy tokens: %d/%d = %.2f%%" % (
        self_total, total, 100.0 * self_total / max(total, 1)))
    print("NOISE FLOOR llama.cpp greedy unchanged with a token-by-token prompt: %d/%d" % (self_ident, len(rows)))
    ok = pct >= args.min_agreement and ident_total >= args.min_identical
    print("RESULT: %s (%.0fs)" % ("PASS" if ok else "FAIL", time.time() - t_start))
    sys.stdout.flush()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
