"""Builds `photos`, a small colour image-classification dataset cut from real photographs that
ship inside two PyPI packages, as a CSV-list dataset thaw reads with
`dataset: {kind: csv, path: .../photos/labels.csv}`. Nothing is downloaded: the photos are read
from the installed packages (`make color-data` installs them into the libtorch venv and runs
this with its python).

  python scripts/color_photos.py [OUT_DIR]        (default data/photos)

Sources (the licences as the packages state them, in skimage/data/_fetchers.py and
sklearn/datasets/images/README.txt):

  scikit-image 0.26.0 (installed with --no-deps; only files inside the wheel, skimage/data/)
    astronaut.png          Eileen Collins, NASA Great Images database; public domain
    chelsea.png            Chelsea the cat; CC0, photographer Stefan van der Walt
    coffee.png             coffee cup, courtesy of Pikolo Espresso Bar; CC0, photographer
                           Rachel Michetti
    hubble_deep_field.jpg  Hubble eXtreme Deep Field, NASA; public domain
    retina.jpg             fundus photograph of a normal left eye (Mikael Haggstrom, Wikimedia
                           Commons); CC0 1.0
    rocket.jpg             Falcon 9 launching DSCOVR, SpaceX; public domain
  scikit-learn 1.9.1 (sklearn/datasets/images/)
    china.jpg              Flickr user danielbuechele; CC BY 2.0
    flower.jpg             Flickr user vultilion; CC BY 2.0

Left out: skimage's other colour files in the wheel (ihc.png and the stereo pair
motorcycle_left/right.png state no licence; color.png and logo.png are drawings), its
grayscale images, and every image skimage only fetches at run time.

Each photo is one class, named by its file stem. Every patch is a square crop, resized to 64x64
RGB (Pillow, Lanczos) and saved as PNG: OUT_DIR/<class>/<split>-<i>.png, listed in
OUT_DIR/labels.csv (columns path,label,split; path relative to the CSV's folder). The splits come
from disjoint regions of each photo, so no pixel of a test or validation patch is in a training
patch:

    +-------------------------+---------+
    | train: left 75 % of the |  test:  |
    | width, top 75 % of the  |  right  |
    | height                  |  25 %   |
    +-------------------------+  of the |
    | val: left 75 %, bottom  |  width  |
    | 25 % of the height      |         |
    +-------------------------+---------+

The crop side is drawn uniformly between max(64, 10 % of the photo's height) and max(64, 25 % of
its height) pixels (so no patch is upsampled, and the largest crop fits every region: all photos
are at least as wide as tall), the position uniformly inside the split's region. For the retina,
crops with more than 0.5 % near-black pixels (every channel < 32: the background around the
fundus) are drawn again. 200 train, 50 val and 50 test patches per class. The crops are drawn
with Python's `random.Random(...).random()` (whose sequence Python keeps across versions), seeded
by the photo's name, so a re-run writes byte-identical files (given the same Pillow, whose JPEG
and PNG libraries decode and encode the pixels). Every source file is checked against its
SHA-256 first (for skimage's, the hashes its own registry lists).
"""

import hashlib
import importlib.metadata
import importlib.util
import os
import random
import shutil
import sys
import time

import numpy as np
from PIL import Image

SKIMAGE_VERSION = "0.26.0"
SKLEARN_VERSION = "1.9.1"
PATCH = 64
COUNTS = {"train": 200, "val": 50, "test": 50}
SEED = "thaw-color-photos-v1"

# (package, file in the package's image folder, sha256, near-black fraction allowed or None)
PHOTOS = [
    ("skimage", "astronaut.png",
     "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5", None),
    ("skimage", "chelsea.png",
     "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb", None),
    ("skimage", "coffee.png",
     "cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7", None),
    ("skimage", "hubble_deep_field.jpg",
     "3a19c5dd8a927a9334bb1229a6d63711b1c0c767fb27e2286e7c84a3e2c2f5f4", None),
    ("skimage", "retina.jpg",
     "38a07f36f27f095e818aea7b96d34202c05176d30253c66733f2e00379e9e0e6", 0.005),
    ("skimage", "rocket.jpg",
     "c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c", None),
    ("sklearn", "china.jpg",
     "8378025ad2519d649d02e32bd98990db4ab572357d9f09841c2fbfbb4fefad29", None),
    ("sklearn", "flower.jpg",
     "a77f6ec41e353afdf8bdff2ea981b2955535d8d83294f8cfa49cf4e423dd5638", None),
]
PACKAGES = {
    # import name: (distribution, pinned version, image folder inside the package)
    "skimage": ("scikit-image", SKIMAGE_VERSION, "data"),
    "sklearn": ("scikit-learn", SKLEARN_VERSION, os.path.join("datasets", "images")),
}


def image_dir(package):
    dist, version, sub = PACKAGES[package]
    try:
        found = importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        sys.exit(f"{dist} is not installed; `make color-data` installs {dist}=={version}")
    if found != version:
        sys.exit(f"{dist} {found} is installed, this script wants {version} (`make color-data`)")
    # find_spec locates the package without importing it (it is installed without its
    # dependencies: only its data files are read).
    spec = importlib.util.find_spec(package)
    return os.path.join(spec.submodule_search_locations[0], sub)


def load(package, name, sha256):
    path = os.path.join(image_dir(package), name)
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    if digest != sha256:
        sys.exit(f"{path}: sha256 {digest}, expected {sha256}")
    with Image.open(path) as im:
        return im.convert("RGB")


def regions(w, h):
    """(x0, y0, x1, y1) of each split's region; disjoint, ends exclusive."""
    xs, ys = round(0.75 * w), round(0.75 * h)
    return {"train": (0, 0, xs, ys), "val": (0, ys, xs, h), "test": (xs, 0, w, h)}


def crops(im, rng, region, n, max_dark):
    """n (x, y, side) squares inside region, drawn with rng."""
    w, h = im.size
    lo, hi = max(PATCH, round(0.10 * h)), max(PATCH, round(0.25 * h))
    x0, y0, x1, y1 = region
    assert hi <= x1 - x0 and hi <= y1 - y0, (im.size, region, hi)
    dark = None
    if max_dark is not None:
        dark = np.asarray(im).max(axis=2) < 32
    out = []
    for _ in range(1000 * n):
        if len(out) == n:
            break
        side = lo + int(rng.random() * (hi - lo + 1))
        x = x0 + int(rng.random() * (x1 - x0 - side + 1))
        y = y0 + int(rng.random() * (y1 - y0 - side + 1))
        if dark is not None and dark[y:y + side, x:x + side].mean() > max_dark:
            continue
        out.append((x, y, side))
    if len(out) < n:
        sys.exit(f"could only place {len(out)} of {n} crops in {region}")
    return out


def colourfulness(a):
    """Hasler and Suesstrunk's colourfulness of an RGB uint8 array (0 for gray)."""
    r, g, b = (a[..., i].astype(np.float64) for i in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    return np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean())


def build(out_dir):
    start = time.monotonic()
    out_dir = os.path.abspath(out_dir)
    tmp = f"{out_dir}.partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    rows = []
    stats = []
    for package, name, sha256, max_dark in PHOTOS:
        im = load(package, name, sha256)
        label = os.path.splitext(name)[0]
        os.makedirs(os.path.join(tmp, label))
        rng = random.Random(f"{SEED}/{label}")
        colour = []
        for split, region in regions(*im.size).items():
            for i, (x, y, side) in enumerate(crops(im, rng, region, COUNTS[split], max_dark)):
                patch = im.crop((x, y, x + side, y + side))
                patch = patch.resize((PATCH, PATCH), Image.Resampling.LANCZOS)
                rel = f"{label}/{split}-{i:03d}.png"
                patch.save(os.path.join(tmp, rel), format="PNG")
                rows.append((rel, label, split))
                colour.append(colourfulness(np.asarray(patch)))
        stats.append((label, im.size, float(np.mean(colour))))
    with open(os.path.join(tmp, "labels.csv"), "w", newline="\n") as f:
        f.write("path,label,split\n")
        for row in rows:
            f.write(",".join(row) + "\n")
    shutil.rmtree(out_dir, ignore_errors=True)
    os.replace(tmp, out_dir)
    for label, (w, h), c in stats:
        counts = "/".join(str(COUNTS[s]) for s in COUNTS)
        print(f"  {label:18} {w}x{h}  train/val/test {counts}  mean colourfulness {c:.1f}")
    print(f"wrote {len(rows)} patches of {PATCH}x{PATCH} RGB, {len(stats)} classes, to "
          f"{out_dir} (labels.csv) in {time.monotonic() - start:.1f} s")


if __name__ == "__main__":
    if len(sys.argv) > 2 or (sys.argv[1:] and sys.argv[1].startswith("-")):
        sys.exit(__doc__)
    build(sys.argv[1] if len(sys.argv) > 1 else "data/photos")
