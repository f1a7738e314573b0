import glob, sys, numpy as np
from llama_cpp import Llama
def rel(a, b):
    a = a.astype(np.float64); b = b.astype(np.float64)
    return np.linalg.norm(a - b, axis=1) / np.linalg.norm(b, axis=1)
def mk(path, kv_f32):
    kw = dict(type_k=0, type_v=0) if kv_f32 else {}
    return Llama(model_path=path, n_ctx=256, n_batch=256, n_threads=2, n_threads_batch=2, logits_all=True,
                 verbose=False, flash_attn=False, **kw)
f32 = mk('/tmp/parity_inv/gemma-3-270m-f32-dequant.gguf', True)
q4kv = mk('/root/.cache/gemrt/gemma-3-270m-q4_k_m.gguf', True)
def run(llm, ids):
    llm.reset(); llm.eval(ids); return np.array(llm.scores[:len(ids)], dtype=np.float32)
N = 32
tot = dict(g_f=0, q_f=0, g_q=0, qkv_f=0, n=0)
print("%3s %10s %10s %10s %10s | %5s %5s %5s %5s" % ("#", "gem~F32", "llq4~F32", "gem~llq4", "q4kv32~F32", "g=F", "q=F", "g=q", "qk=F"))
for p in sorted(glob.glob('/tmp/parity_dump/prompt_*.npz')):
    d = np.load(p); ids = [int(x) for x in d['ids']]; g = d['gemrt']; q = d['llamacpp']
    F = run(f32, ids); QK = run(q4kv, ids)
    Tp = len(ids) - (N - 1)
    sl = slice(Tp - 1, Tp - 1 + N)
    a = lambda x: x[sl].argmax(1)
    cf = a(F)
    gf, qf, gq, kf = (a(g) == cf).sum(), (a(q) == cf).sum(), (a(g) == a(q)).sum(), (a(QK) == cf).sum()
    tot['g_f'] += gf; tot['q_f'] += qf; tot['g_q'] += gq; tot['qkv_f'] += kf; tot['n'] += N
    print("%3s %10.2e %10.2e %10.2e %10.2e | %5d %5d %5d %5d" % (p[-6:-4], rel(g, F).mean(), rel(q, F).mean(), rel(g, q).mean(),
          rel(QK, F).mean(), gf, qf, gq, kf))
    if p.endswith('01.npz') or p.endswith('11.npz'):
        print("   per-row rel gemrt~F32:", np.array2string(rel(g, F), precision=1, max_line_width=200))
        print("   per-row rel llq4~F32: ", np.array2string(rel(q, F), precision=1, max_line_width=200))
        print("   per-row max|d| gemrt~F32:", np.array2string(np.abs(g - F).max(1), precision=3, max_line_width=200))
print("top-1 agreement with llama.cpp-F32-dequant over continuation positions: gemrt %d/%d, llama.cpp-Q4 %d/%d, llama.cpp-Q4+f32KV %d/%d; gemrt vs llama.cpp-Q4 %d/%d" % (
    tot['g_f'], tot['n'], tot['q_f'], tot['n'], tot['qkv_f'], tot['n'], tot['g_q'], tot['n']))
