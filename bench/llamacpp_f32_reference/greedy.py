import glob, subprocess, numpy as np
from llama_cpp import Llama
N = 32
G = '/work/main/build/bin/gemrt'; M = '/root/.cache/gemrt/gemma-3-270m-q4_k_m.gguf'
f32 = Llama(model_path='/tmp/parity_inv/gemma-3-270m-f32-dequant.gguf', n_ctx=256, n_batch=256, n_threads=2,
            n_threads_batch=2, logits_all=True, verbose=False, flash_attn=False, type_k=0, type_v=0)
ident_g = ident_q = 0
for p in sorted(glob.glob('/tmp/parity_dump/prompt_*.npz')):
    d = np.load(p); ids = [int(x) for x in d['ids']]; Tp = len(ids) - (N - 1)
    prompt = ids[:Tp]; q4cont = ids[Tp:]  # llama.cpp-Q4's first 31 tokens
    f32.reset(); f32.eval(prompt); fc = []
    for i in range(N):
        t = int(np.argmax(f32.scores[f32.n_tokens - 1])); fc.append(t)
        if i < N - 1: f32.eval([t])
    gc = [int(x) for x in subprocess.run([G, 'generate', '--model', M, '--ids', ','.join(map(str, prompt)), '-n', str(N),
          '--threads', '2'], capture_output=True, check=True).stdout.split()]
    def div(a, b): return next((i for i in range(N) if a[i] != b[i]), None)
    dg = div(gc, fc); dq = div(q4cont + [None], fc)
    ident_g += dg is None; ident_q += dq is None or dq == N - 1 and False
    print(p[-6:-4], 'gemrt vs llama.cpp-F32: %s' % ('identical' if dg is None else 'diverge@%d' % dg),
          '| llama.cpp-Q4 vs llama.cpp-F32 (first 31): %s' % ('identical' if dq in (None, N - 1) else 'diverge@%d' % dq), flush=True)
print('gemrt identical to llama.cpp-F32-dequant greedy: %d/20' % ident_g)
