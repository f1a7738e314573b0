# Write an all-F32 copy of a GGUF (every quantized tensor dequantized), same metadata.
import sys, numpy as np, gguf
src, dst = sys.argv[1], sys.argv[2]
r = gguf.GGUFReader(src)
w = gguf.GGUFWriter(dst, arch=r.fields['general.architecture'].contents())
for f in r.fields.values():
    if f.name == 'general.architecture' or f.name.startswith('GGUF.'):
        continue
    vt = f.types[0]
    st = f.types[-1] if vt == gguf.GGUFValueType.ARRAY else None
    val = f.contents()
    if f.name == 'general.file_type':
        val = 0
    w.add_key_value(f.name, val, vt, sub_type=st)
for t in r.tensors:
    a = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)
    w.add_tensor(t.name, a, raw_dtype=gguf.GGMLQuantizationType.F32)
w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
print('ok')
