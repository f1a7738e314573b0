"""Writes tests/data/hf-media/gemma4-audio-sdpa/reference.safetensors: transformers' audio_features
[9, 64] and logits [85, 512] of the shared gemma4-towers-pub fixture (its model, mel frames, image
and prompt) under the default attn_implementation ("sdpa").

The shared fixture was made with attn_implementation="eager", under which transformers 5.17 reads
the audio tower's float attention mask inverted (Gemma4AudioModel._convert_4d_mask_to_blocked_5d
pads the 0 / min float mask with False = 0, then Gemma4AudioAttention masks where the mask is 0).
The sdpa path applies the intended sliding window; this reference checks gemrt's default mode.

Run with the project's HF venv:  python tests/data/make_gemma4_audio_sdpa_reference.py
"""
import json
import os

import torch
from safetensors.numpy import load_file
from safetensors.torch import save_file
from transformers import Gemma4ForConditionalGeneration

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "..", "..", "..", "shared", "fixtures", "hf", "gemma4-towers-pub")
OUT = os.path.join(HERE, "hf-media", "gemma4-audio-sdpa")


def main():
    ref = load_file(os.path.join(FIXTURE, "reference.safetensors"))
    model = Gemma4ForConditionalGeneration.from_pretrained(FIXTURE, dtype=torch.float32, attn_implementation="sdpa")
    model.eval()
    mel = torch.tensor(ref["audio_mel"])[None]
    mask = torch.tensor(ref["audio_mel_mask"])[None].bool()
    with torch.no_grad():
        audio = model.model.get_audio_features(mel, mask, return_dict=True)
        features = audio.pooler_output[0][audio.attention_mask[0]]
        logits = model(input_ids=torch.tensor(ref["input_ids"])[None].long(),
                       pixel_values=torch.tensor(ref["pixel_values"])[None],
                       image_position_ids=torch.tensor(ref["image_position_ids"])[None].long(),
                       input_features=mel, input_features_mask=mask).logits[0]
    os.makedirs(OUT, exist_ok=True)
    save_file({"audio_features": features.contiguous(), "logits": logits.contiguous()},
              os.path.join(OUT, "reference.safetensors"))
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump({"source": "../../../../shared/fixtures/hf/gemma4-towers-pub (model, audio_mel, image, input_ids)",
                   "attn_implementation": "sdpa", "made_with": "transformers 5.17.0, fp32",
                   "script": "tests/data/make_gemma4_audio_sdpa_reference.py"}, f, indent=1)
    print("audio_features", tuple(features.shape), "logits", tuple(logits.shape))


if __name__ == "__main__":
    main()
