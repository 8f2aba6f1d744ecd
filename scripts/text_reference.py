#!/usr/bin/env python3
"""Reference for thaw's text backbone (tests/text_backbone.rs): Hugging Face's BertModel written
out plainly in PyTorch (no transformers package), reading a BERT checkpoint in safetensors
(all-MiniLM-L6-v2's model.safetensors, parsed here without the safetensors package) and its
config.json.

Usage: text_reference.py MODEL_DIR [IDS.json]
IDS.json (else stdin): a JSON list of token-id lists, one per example, any lengths; they are
padded with 0 to the longest and run as one batch, with the padding masked out of attention.
Prints JSON {"mean": [[...]], "cls": [[...]]}: sentence-transformers' mean pooling over the
real tokens, and the [CLS] token's last hidden state.
"""
import json
import math
import struct
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "I64": torch.int64}


def read_safetensors(path):
    """The tensors of a safetensors file: an 8-byte header length, a JSON header, the data."""
    raw = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    data = memoryview(raw)[8 + n :]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        t = torch.frombuffer(bytearray(data[start:end]), dtype=DTYPES[info["dtype"]])
        out[name] = t.reshape(info["shape"])
    return out


def layer_norm(x, w, prefix, eps):
    return F.layer_norm(x, x.shape[-1:], w[prefix + ".weight"], w[prefix + ".bias"], eps)


def dense(x, w, prefix):
    return F.linear(x, w[prefix + ".weight"], w[prefix + ".bias"])


def bert(w, cfg, ids, mask):
    """Last hidden states [N, L, H] of BertModel (eval mode) for ids [N, L], mask [N, L]."""
    eps = cfg["layer_norm_eps"]
    heads = cfg["num_attention_heads"]
    n, length = ids.shape
    pos = torch.arange(length)
    h = (
        w["embeddings.word_embeddings.weight"][ids]
        + w["embeddings.position_embeddings.weight"][pos][None]
        + w["embeddings.token_type_embeddings.weight"][0]
    )
    h = layer_norm(h, w, "embeddings.LayerNorm", eps)
    # Padding keys get the most negative float added to their scores, as BertModel does.
    bias = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."

        def split(t):
            return t.view(n, length, heads, -1).transpose(1, 2)

        q = split(dense(h, w, p + "attention.self.query"))
        k = split(dense(h, w, p + "attention.self.key"))
        v = split(dense(h, w, p + "attention.self.value"))
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]) + bias
        ctx = (scores.softmax(-1) @ v).transpose(1, 2).reshape(n, length, -1)
        a = layer_norm(dense(ctx, w, p + "attention.output.dense") + h, w,
                       p + "attention.output.LayerNorm", eps)
        f = F.gelu(dense(a, w, p + "intermediate.dense"))
        h = layer_norm(dense(f, w, p + "output.dense") + a, w, p + "output.LayerNorm", eps)
    return h


def main():
    model_dir = Path(sys.argv[1])
    text = Path(sys.argv[2]).read_text() if len(sys.argv) > 2 else sys.stdin.read()
    examples = json.loads(text)
    cfg = json.loads((model_dir / "config.json").read_text())
    w = read_safetensors(model_dir / "model.safetensors")
    length = max(len(e) for e in examples)
    ids = torch.zeros(len(examples), length, dtype=torch.int64)
    for i, e in enumerate(examples):
        ids[i, : len(e)] = torch.tensor(e, dtype=torch.int64)
    mask = (ids != 0).long()
    with torch.no_grad():
        h = bert(w, cfg, ids, mask)
        m = mask[:, :, None].float()
        mean = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
        cls = h[:, 0]
    json.dump({"mean": mean.tolist(), "cls": cls.tolist()}, sys.stdout)


if __name__ == "__main__":
    main()
