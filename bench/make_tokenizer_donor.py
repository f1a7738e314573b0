#!/usr/bin/env python3
"""Copy the tokenizer.* keys of a Gemma 3 GGUF into a small GGUF with no tensors (~6 MB), the
--donor that bench/make_synthetic_gguf.py needs, small enough to carry to the GPU machine.

Usage: python3 bench/make_tokenizer_donor.py ~/.cache/gemrt/gemma-3-270m-q4_k_m.gguf OUT.gguf
Needs: gguf (the registry package).
"""
import sys

from gguf import GGUFReader, GGUFValueType, GGUFWriter


def main() -> None:
    src, out = sys.argv[1], sys.argv[2]
    reader = GGUFReader(src)
    writer = GGUFWriter(out, "gemma3")
    for field in reader.fields.values():
        if not field.name.startswith("tokenizer."):
            continue
        kind = field.types[0]
        if kind == GGUFValueType.ARRAY:
            item = field.types[-1]
            if item == GGUFValueType.STRING:
                writer.add_array(field.name, [bytes(field.parts[i]) for i in field.data])
            else:
                writer.add_key_value(field.name, [field.parts[i].tolist()[0] for i in field.data], kind, sub_type=item)
        elif kind == GGUFValueType.STRING:
            writer.add_string(field.name, bytes(field.parts[field.data[0]]).decode())
        else:
            writer.add_key_value(field.name, field.parts[field.data[0]].tolist()[0], kind)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


if __name__ == "__main__":
    main()
