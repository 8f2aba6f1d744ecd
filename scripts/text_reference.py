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

Usage: text_reference.py bench MODEL_DIR LENGTH BATCH STEPS
Training-loop throughput (texts/s) of the loop examples/backbone_bench.rs times in thaw (see
bench/backbones.sh), printed as one number: random token ids in 1000..30000, every row LENGTH
tokens long, every weight trainable, dropout as in training, mean pooling, a new Linear head
(10 classes), cross-entropy, SGD momentum 0.9 (DEVICE=cuda runs it on the GPU).
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


def bert(w, cfg, ids, mask, train=False):
    """Last hidden states [N, L, H] of BertModel for ids [N, L], mask [N, L]: eval mode, or
    training mode (dropout at the config's rates, where BertModel has it) when `train`."""
    eps = cfg["layer_norm_eps"]
    heads = cfg["num_attention_heads"]
    p_hidden = cfg["hidden_dropout_prob"] if train else 0.0
    p_attn = cfg["attention_probs_dropout_prob"] if train else 0.0
    n, length = ids.shape
    pos = torch.arange(length, device=ids.device)
    h = (
        F.embedding(ids, w["embeddings.word_embeddings.weight"])
        + F.embedding(pos, w["embeddings.position_embeddings.weight"])[None]
        + w["embeddings.token_type_embeddings.weight"][0]
    )
    h = F.dropout(layer_norm(h, w, "embeddings.LayerNorm", eps), p_hidden, train)
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
        probs = F.dropout(scores.softmax(-1), p_attn, train)
        ctx = (probs @ v).transpose(1, 2).reshape(n, length, -1)
        a = dense(ctx, w, p + "attention.output.dense")
        a = layer_norm(F.dropout(a, p_hidden, train) + h, w, p + "attention.output.LayerNorm", eps)
        f = F.gelu(dense(a, w, p + "intermediate.dense"))
        y = F.dropout(dense(f, w, p + "output.dense"), p_hidden, train)
        h = layer_norm(y + a, w, p + "output.LayerNorm", eps)
    return h


def mean_pool(h, mask):
    """sentence-transformers' mean pooling: the mean of the real tokens' states."""
    m = mask[:, :, None].to(h.dtype)
    return (h * m).sum(1) / m.sum(1).clamp(min=1e-9)


def bench(model_dir, length, batch, steps, classes=10):
    """Examples/s of fine-tuning every weight of the checkpoint with a new head."""
    import os
    import time

    torch.manual_seed(0)
    dev = torch.device("cuda" if os.environ.get("DEVICE") == "cuda" else "cpu")
    cfg = json.loads((Path(model_dir) / "config.json").read_text())
    w = read_safetensors(Path(model_dir) / "model.safetensors")
    # The tensors bert() reads, as trainable leaves (the pooler and position_ids are unused).
    w = {k: v.float().to(dev).requires_grad_() for k, v in w.items()
         if k.startswith(("embeddings.", "encoder.")) and v.is_floating_point()}
    head = torch.nn.Linear(cfg["hidden_size"], classes).to(dev)
    params = list(w.values()) + list(head.parameters())
    opt = torch.optim.SGD(params, lr=0.01, momentum=0.9)
    ids = torch.randint(1000, 30000, (batch * 2, length), dtype=torch.int64, device=dev)
    labels = torch.randint(0, classes, (batch * 2,), device=dev)

    def step(i):
        idx = torch.arange(batch, device=dev) + (i % 2) * batch
        x = ids[idx]
        mask = (x != 0).long()
        logits = head(mean_pool(bert(w, cfg, x, mask, train=True), mask))
        loss = F.cross_entropy(logits, labels[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()

    step(0)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for i in range(steps):
        step(i)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    print(f"{steps * batch / (time.perf_counter() - start):.2f}")


def main():
    if sys.argv[1] == "bench":
        bench(sys.argv[2], *(int(a) for a in sys.argv[3:6]))
        return
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
        mean = mean_pool(h, mask)
        cls = h[:, 0]
    json.dump({"mean": mean.tolist(), "cls": cls.tolist()}, sys.stdout)


if __name__ == "__main__":
    main()
