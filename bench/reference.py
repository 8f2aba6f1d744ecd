#!/usr/bin/env python3
"""The training thaw does, written plainly in PyTorch: the reference side of `make bench`.

Reads the trials of one sweep from a thaw database (written by `thaw run`) and retrains each one
with an ordinary PyTorch loop, on exactly the same examples: the train/val/test indices come from
the database's `split_files` table (`#<index>` rows of the bundled IDX datasets), so no split or
sampling logic is re-implemented here. Pretrained trials load thaw's cached source checkpoint
(`<cache>/pretrained/<key>.safetensors`, read with a few lines of stdlib instead of the
`safetensors` package).

What is the same as thaw (src/model, src/train):
  * models: cnn4 (4 x [conv3x3 no bias, BatchNorm, ReLU], 2x2 max-pool after blocks 2-4,
    channels 32/32/64/64) and resnet8 (stem conv3x3 16 + BN + ReLU, then three basic blocks
    16/32/64 with strides 1/2/2 and a 1x1 conv + BN projection shortcut where the shape changes),
    global average pool, linear head from 64 features;
  * initialisation: tch's defaults, drawn in thaw's variable-creation order after
    `manual_seed(seed)`: conv and linear weights U(+-sqrt(6/fan_in)), linear bias
    U(+-1/sqrt(fan_in)) drawn before the weight, BatchNorm weight 1 (as PyTorch),
    BatchNorm bias 0, momentum 0.1, eps 1e-5;
  * data: u8 images, x/127.5 - 1 per batch, labels remapped to positions in `classes`;
  * training: per-epoch reseeding (`seed_epoch`), `randperm` order, batches of `batch_size`
    (last one short), cross-entropy, torch.optim.SGD / AdamW with one parameter group per block
    plus the head, the learning rate of every group set at every step from the schedule
    (constant, step, cosine with warm-up, STLR; layer decay; gradual unfreezing; 0 for frozen
    blocks), frozen blocks run without gradient and with fixed BatchNorm statistics;
  * evaluation: batches of 128, every block in eval mode; val loss/acc, test acc and (pretrained
    trials) source acc after every epoch, plus once before the first epoch.
  * precision: a trial with `"precision": "bf16"` runs its forward passes (training and
    evaluation) under torch.autocast(dtype=torch.bfloat16), the standard PyTorch recipe; the
    loss is computed in float32.
  * timing: per epoch, from before the reseed to after that epoch's evaluation (thaw's
    `epoch_seconds`); losses are accumulated on the device and read once per epoch, as thaw does.

The training examples are taken in thaw's order (split_files.position), so with the same
per-epoch seeds the batches are the same as thaw's; what remains different is floating-point
summation order inside the libraries (and, on a GPU, cuDNN's algorithm choice), so results agree
closely, not bit for bit.

Usage: reference.py --db thaw.sqlite --sweep bench --data-dir data --cache-dir .thaw-cache \
                    --device cpu --threads 2 --out reference.json
"""

import argparse
import gzip
import json
import math
import os
import sqlite3
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

EVAL_BATCH = 128
FEATURE_DIM = 64

BUNDLED_IDX = {
    "mnist10k": ("mnist10k/mnist10k-images-idx3-ubyte.gz", "mnist10k/mnist10k-labels-idx1-ubyte.gz"),
    "fashion10k": ("fashion10k/t10k-images-idx3-ubyte.gz", "fashion10k/t10k-labels-idx1-ubyte.gz"),
}


# ---------------------------------------------------------------------------------------------
# Data


def read_idx(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    magic = struct.unpack(">I", raw[:4])[0]
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, raw[4 : 4 + 4 * ndim])
    data = torch.frombuffer(bytearray(raw[4 + 4 * ndim :]), dtype=torch.uint8)
    return data.reshape(dims)


_datasets = {}


def load_dataset(source, data_dir):
    """(images u8 [N, 1, H, W], labels i64 [N]) of a dataset named in a trial's config."""
    if source.get("kind") == "bundled" and source["name"] in BUNDLED_IDX:
        paths = [os.path.join(data_dir, p) for p in BUNDLED_IDX[source["name"]]]
    elif source.get("kind") == "idx":
        paths = [source["images"], source["labels"]]
    else:
        raise SystemExit(f"reference.py: dataset {source} is not supported (IDX datasets only)")
    key = tuple(paths)
    if key not in _datasets:
        images, labels = read_idx(paths[0]), read_idx(paths[1])
        _datasets[key] = (images.unsqueeze(1).contiguous(), labels.to(torch.int64))
    return _datasets[key]


# ---------------------------------------------------------------------------------------------
# Models (thaw's src/model, with tch's initialisation)


def conv3x3(c_in, c_out, stride=1):
    return nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)


def bn(c):
    return nn.BatchNorm2d(c, eps=1e-5, momentum=0.1)


class ConvBlock(nn.Module):
    def __init__(self, c_in, c_out, pool):
        super().__init__()
        self.conv = conv3x3(c_in, c_out)
        self.bn = bn(c_out)
        self.pool = pool

    def forward(self, x):
        y = F.relu(self.bn(self.conv(x)))
        return F.max_pool2d(y, 2) if self.pool else y

    def init_order(self):
        return [self.conv, self.bn]


class BasicBlock(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.has_shortcut = stride != 1 or c_in != c_out
        if self.has_shortcut:
            self.shortcut_conv = nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False)
            self.shortcut_bn = bn(c_out)
        self.conv1 = conv3x3(c_in, c_out, stride)
        self.bn1 = bn(c_out)
        self.conv2 = conv3x3(c_out, c_out)
        self.bn2 = bn(c_out)

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        skip = self.shortcut_bn(self.shortcut_conv(x)) if self.has_shortcut else x
        return F.relu(y + skip)

    def init_order(self):
        first = [self.shortcut_conv, self.shortcut_bn] if self.has_shortcut else []
        return first + [self.conv1, self.bn1, self.conv2, self.bn2]


BLOCK_NAMES = {"cnn4": ["block1", "block2", "block3", "block4"], "resnet8": ["stem", "stage1", "stage2", "stage3"]}


class Network(nn.Module):
    def __init__(self, kind, source_classes, target_classes):
        super().__init__()
        blocks = []
        for i in range(4):
            if kind == "cnn4":
                blocks.append(ConvBlock([1, 32, 32, 64][i], [32, 32, 64, 64][i], pool=i > 0))
            elif i == 0:
                blocks.append(ConvBlock(1, 16, pool=False))
            else:
                blocks.append(BasicBlock([16, 16, 32][i - 1], [16, 32, 64][i - 1], 1 if i == 1 else 2))
        self.backbone = nn.ModuleDict(zip(BLOCK_NAMES[kind], blocks))
        self.blocks = blocks
        self.source_head = nn.Linear(FEATURE_DIM, source_classes) if source_classes else None
        self.target_head = nn.Linear(FEATURE_DIM, target_classes)

    @torch.no_grad()
    def init_like_tch(self):
        """Re-draws every parameter as tch's defaults do, in thaw's creation order (the caller
        seeds torch first)."""

        def kaiming(w):
            fan_in = w.shape[1] * math.prod(w.shape[2:])
            bound = math.sqrt(3.0) * math.sqrt(2.0) / math.sqrt(fan_in)
            w.uniform_(-bound, bound)

        for block in self.blocks:
            for m in block.init_order():
                if isinstance(m, nn.Conv2d):
                    kaiming(m.weight)
                else:
                    m.weight.fill_(1.0)
                    m.bias.zero_()
                    m.running_mean.zero_()
                    m.running_var.fill_(1.0)
        for head in (self.source_head, self.target_head):
            if head is not None:
                bound = 1.0 / math.sqrt(head.in_features)
                head.bias.uniform_(-bound, bound)
                kaiming(head.weight)

    def features(self, x, trainable_from, train):
        split = min(trainable_from, len(self.blocks))
        with torch.no_grad():
            for b in self.blocks[:split]:
                b.eval()
                x = b(x)
        for b in self.blocks[split:]:
            b.train(train)
            x = b(x)
        return F.adaptive_avg_pool2d(x, 1).flatten(1)

    def block_params(self, i):
        return list(self.blocks[i].parameters())

    def set_trainable_from(self, trainable_from):
        for i, b in enumerate(self.blocks):
            for p in b.parameters():
                p.requires_grad_(i >= trainable_from)
        for p in self.target_head.parameters():
            p.requires_grad_(True)
        if self.source_head is not None:
            for p in self.source_head.parameters():
                p.requires_grad_(False)


def read_safetensors(path):
    """{name: tensor} from a safetensors file (8-byte LE header length, JSON header, data)."""
    dtypes = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64, "F16": torch.float16, "BF16": torch.bfloat16}
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    data = raw[8 + n :]
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        start, end = meta["data_offsets"]
        t = torch.frombuffer(bytearray(data[start:end]), dtype=dtypes[meta["dtype"]]) if end > start else torch.empty(0, dtype=dtypes[meta["dtype"]])
        out[name] = t.reshape(meta["shape"])
    return out


def load_pretrained(net, path):
    tensors = read_safetensors(path)
    own = net.state_dict()
    loaded = 0
    with torch.no_grad():
        for name, t in tensors.items():
            if name in own:
                own[name].copy_(t)
                loaded += 1
    missing = [n for n in own if n not in tensors and not n.startswith("target_head") and not n.endswith("num_batches_tracked")]
    if missing:
        raise SystemExit(f"reference.py: checkpoint {path} lacks {', '.join(missing)}")
    return loaded


# ---------------------------------------------------------------------------------------------
# Schedules (thaw's src/train/schedule.rs)


class LrPlan:
    def __init__(self, schedule, epochs, steps_per_epoch):
        self.s = schedule
        self.spe = max(steps_per_epoch, 1)
        self.total = max(epochs * steps_per_epoch, 1)

    def multiplier(self, t):
        kind = self.s["kind"]
        if kind == "constant":
            return 1.0
        if kind == "step":
            epoch = t // self.spe
            return self.s["gamma"] ** (epoch // max(self.s["step_epochs"], 1))
        if kind == "cosine":
            warmup = float(round_half_away(self.s["warmup_epochs"] * self.spe))
            if t < warmup:
                return (t + 1.0) / warmup
            progress = (t - warmup) / max(self.total - warmup, 1.0)
            return 0.5 * (1.0 + math.cos(math.pi * progress))
        if kind == "stlr":
            cut_frac, ratio = self.s["cut_frac"], self.s["ratio"]
            cut = max(math.floor(self.total * cut_frac), 1.0)
            p = t / cut if t < cut else 1.0 - (t - cut) / (cut * (1.0 / cut_frac - 1.0))
            return (1.0 + max(p, 0.0) * (ratio - 1.0)) / ratio
        raise SystemExit(f"reference.py: unknown schedule {kind}")

    def head_lr(self, t):
        return self.s["lr"] * self.multiplier(t)

    def block_lr(self, block, n_blocks, t):
        return self.head_lr(t) / self.s["layer_decay"] ** (n_blocks - block)

    def trainable_from(self, epoch, frozen, n_blocks):
        if self.s["gradual_unfreeze"]:
            return max(frozen, max(n_blocks - epoch, 0))
        return frozen


def round_half_away(x):
    """Rust's f64::round (half away from zero), not Python's banker's rounding."""
    return math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)


def seed_epoch(seed, epoch):
    """thaw's train::seed_epoch: the data order of an epoch depends only on (seed, epoch)."""
    mask = (1 << 64) - 1
    mixed = (seed * 0x9E3779B97F4A7C15 + epoch) & mask
    mixed = ((mixed << 17) | (mixed >> 47)) & mask
    torch.manual_seed(mixed >> 1)


def build_optimizer(config, groups):
    params = [{"params": g, "lr": 0.0} for g in groups]
    kind = config["kind"]
    if kind == "sgd":
        return torch.optim.SGD(params, lr=0.0, momentum=config["momentum"], nesterov=config["nesterov"], weight_decay=config["weight_decay"])
    if kind == "adamw":
        return torch.optim.AdamW(params, lr=0.0, betas=(config["beta1"], config["beta2"]), eps=1e-8, weight_decay=config["weight_decay"])
    raise SystemExit(f"reference.py: unknown optimizer {kind}")


# ---------------------------------------------------------------------------------------------
# Training and evaluation


def normalise(images):
    return images.float() / 127.5 - 1.0


def autocast(device, precision):
    """torch.autocast in bf16 for a bf16 trial, a no-op context otherwise."""
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


def evaluate(net, images, labels, head, precision):
    n = labels.shape[0]
    if n == 0:
        return float("nan"), float("nan")
    n_blocks = len(net.blocks)
    with torch.no_grad(), autocast(images.device, precision):
        loss_sum = torch.zeros((), device=images.device)
        correct = torch.zeros((), dtype=torch.int64, device=images.device)
        for start in range(0, n, EVAL_BATCH):
            x = normalise(images[start : start + EVAL_BATCH])
            y = labels[start : start + EVAL_BATCH]
            logits = head(net.features(x, n_blocks, False)).float()
            loss_sum += F.cross_entropy(logits, y) * y.shape[0]
            correct += (logits.argmax(-1) == y).sum()
        return loss_sum.item() / n, correct.item() / n


def trial_rows(db, sweep):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    rows = con.execute(
        """SELECT t.id, t.key, t.position, t.config_json, t.backbone, t.pretrained, t.frozen_blocks,
                  t.seed, t.epochs, t.batch_size, t.split_key, t.status
           FROM trials t JOIN sweeps s ON s.id = t.sweep_id
           WHERE s.name = ? ORDER BY t.position""",
        (sweep,),
    ).fetchall()
    return con, rows


def split_indices(con, split_key):
    out = {"train": [], "val": [], "test": []}
    # In thaw's order (the position column), so the seeded per-epoch permutations pick the same
    # batches; databases from before schema v5 lack it, and then the order (and batches) differ.
    for split, path, label in con.execute(
        "SELECT split, path, label FROM split_files WHERE split_key = ? ORDER BY split, position, path", (split_key,)
    ):
        if not path.startswith("#"):
            raise SystemExit(f"reference.py: split row {path} is not an #index row (image-file datasets are not supported)")
        out[split].append((int(path[1:]), label))
    return out


def pretrained_path(con, cache_dir, cfg, backbone, seed):
    rows = con.execute(
        "SELECT path FROM pretrained WHERE backbone = ? AND seed = ? AND source_dataset = ?",
        (backbone, seed, label_of(cfg["source"]["dataset"])),
    ).fetchall()
    paths = sorted({r[0] for r in rows})
    if len(paths) != 1:
        raise SystemExit(f"reference.py: expected one pretrained checkpoint for {backbone} seed {seed}, found {paths}")
    path = paths[0]
    if not os.path.isabs(path) and not os.path.exists(path):
        path = os.path.join(cache_dir, "pretrained", os.path.basename(path))
    return path


def label_of(source):
    if source.get("kind") == "bundled":
        return source["name"]
    return os.path.splitext(os.path.basename(source.get("images") or source.get("path")))[0]


def run_trial(con, row, args, device):
    cfg = json.loads(row["config_json"])
    started = time.perf_counter()
    if cfg["target"]["shift"]["kind"] != "none" or cfg.get("image_size", 28) != 28:
        raise SystemExit("reference.py: only unshifted 28x28 trials are supported")
    images, labels = load_dataset(cfg["target"]["dataset"], args.data_dir)
    classes = cfg["target"]["classes"]
    pos = {c: i for i, c in enumerate(classes)}
    splits = split_indices(con, row["split_key"])

    def tensors(rows, mapping):
        idx = torch.tensor([i for i, _ in rows], dtype=torch.int64)
        lab = torch.tensor([mapping[l] for _, l in rows], dtype=torch.int64)
        return images.index_select(0, idx).to(device), lab.to(device)

    train_x, train_y = tensors(splits["train"], pos)
    val_x, val_y = tensors(splits["val"], pos)
    test_x, test_y = tensors(splits["test"], pos)
    pretrained = bool(row["pretrained"])
    source_classes = cfg["source"]["classes"]
    src = None
    if pretrained:
        # The source test split is fixed per class (it depends only on the dataset), so when the
        # target classes include the source classes it is the target test split restricted to them.
        if cfg["source"]["dataset"] != cfg["target"]["dataset"] or not set(source_classes) <= set(classes):
            raise SystemExit("reference.py: pretrained trials need target classes that include the source classes (same dataset)")
        spos = {c: i for i, c in enumerate(source_classes)}
        src = tensors([r for r in splits["test"] if r[1] in spos], spos)

    seed = row["seed"]
    torch.manual_seed(seed)
    net = Network(row["backbone"], len(source_classes) if pretrained else None, len(classes)).to(device)
    torch.manual_seed(seed)
    net.init_like_tch()
    if pretrained:
        load_pretrained(net, pretrained_path(con, args.cache_dir, cfg, row["backbone"], seed))

    n_blocks = len(net.blocks)
    frozen = row["frozen_blocks"]
    epochs, batch_size = row["epochs"], row["batch_size"]
    n_train = train_y.shape[0]
    spe = -(-n_train // batch_size)
    plan = LrPlan(cfg["schedule"], epochs, spe)
    groups = [net.block_params(i) for i in range(n_blocks)] + [list(net.target_head.parameters())]
    opt = build_optimizer(cfg["optimizer"], groups)

    precision = cfg.get("precision", "fp32")

    def evaluate_all():
        m = {}
        m["val_loss"], m["val_acc"] = evaluate(net, val_x, val_y, net.target_head, precision)
        m["test_acc"] = evaluate(net, test_x, test_y, net.target_head, precision)[1]
        if src is not None:
            m["source_acc"] = evaluate(net, src[0], src[1], net.source_head, precision)[1]
        return m

    evaluate_all()  # epoch 0, as thaw logs it (not part of any epoch's time)
    step = 0
    epoch_seconds = []
    m = {}
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        seed_epoch(seed, epoch)
        trainable_from = plan.trainable_from(epoch - 1, frozen, n_blocks)
        net.set_trainable_from(trainable_from)
        perm = torch.randperm(n_train, dtype=torch.int64, device=device)
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), dtype=torch.int64, device=device)
        for idx in perm.split(batch_size):
            opt.zero_grad()
            for b in range(n_blocks):
                opt.param_groups[b]["lr"] = plan.block_lr(b, n_blocks, step) if b >= trainable_from else 0.0
            opt.param_groups[n_blocks]["lr"] = plan.head_lr(step)
            x = normalise(train_x.index_select(0, idx))
            y = train_y.index_select(0, idx)
            with autocast(device, precision):
                logits = net.target_head(net.features(x, trainable_from, True))
            loss = F.cross_entropy(logits.float(), y)
            loss.backward()
            opt.step()
            loss_sum += loss.detach() * idx.shape[0]
            correct += (logits.detach().argmax(-1) == y).sum()
            step += 1
        train_loss = loss_sum.item() / n_train
        train_acc = correct.item() / n_train
        m = {"train_loss": train_loss, "train_acc": train_acc}
        if not math.isfinite(train_loss):
            epoch_seconds.append(time.perf_counter() - t0)
            break
        m.update(evaluate_all())
        epoch_seconds.append(time.perf_counter() - t0)
    return {
        "key": row["key"],
        "position": row["position"],
        "n_train": n_train,
        "epochs": len(epoch_seconds),
        "epoch_seconds": epoch_seconds,
        "wall_seconds": time.perf_counter() - started,
        "final": m,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--sweep", default="bench")
    ap.add_argument("--data-dir", default="data")
    ap.add_argument("--cache-dir", default=".thaw-cache")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0 = leave the default)")
    ap.add_argument("--out", required=True, help="JSON file of per-trial results")
    ap.add_argument("--limit", type=int, default=0, help="run only the first N completed trials (debugging)")
    args = ap.parse_args()
    process_start = time.perf_counter()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else ("cpu" if args.device == "auto" else args.device))
    con, rows = trial_rows(args.db, args.sweep)
    if not rows:
        raise SystemExit(f"reference.py: no trials of sweep {args.sweep} in {args.db}")
    results = []
    for i, row in enumerate(rows):
        if row["status"] != "completed":
            print(f"[{i + 1}/{len(rows)}] skipping {row['key']} (thaw status {row['status']})", file=sys.stderr)
            continue
        if args.limit and len(results) >= args.limit:
            break
        r = run_trial(con, row, args, device)
        results.append(r)
        print(
            f"[{i + 1}/{len(rows)}] {row['backbone']} {'pretrained' if row['pretrained'] else 'scratch'} "
            f"freeze={row['frozen_blocks']} n={r['n_train']} seed={row['seed']}: "
            f"test_acc {r['final'].get('test_acc', float('nan')):.3f} in {sum(r['epoch_seconds']):.2f}s",
            file=sys.stderr,
        )
    out = {
        "device": str(device),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "cuda_device": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "process_seconds": time.perf_counter() - process_start,
        "trials": results,
    }
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
