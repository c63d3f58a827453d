"""Regenerate the embedded evaluation set ``assets/cifar10_test1k.npz``.

    python -m graphparam.data.make_embedded --source PATH/cifar10_lossless_5k.npz

Reads ``test_x`` / ``test_y`` (the first 1,000 official CIFAR-10 test images,
exact pixels) and stores them as one lossless WebP mosaic plus labels, class
names and a SHA-256 of the pixels. Measured on those 1,000 images: raw pixels
3.07 MB; np.savez_compressed 2.83 MB; lzma 2.33 MB; per-image PNG 2.26 MB;
PNG mosaic 2.16 MB; per-image lossless WebP 1.81 MB; lossless WebP mosaic
1.67 MB (chosen; decodes in ~0.04 s).
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

import numpy as np

from .cifar10 import CIFAR10_CLASSES
from .embedded import EMBEDDED_PATH, pixels_sha256, tile, untile

ROWS, COLS = 25, 40


def encode(images_hwc: np.ndarray, labels: np.ndarray, classes, out: Path) -> int:
    from PIL import Image

    mosaic = tile(images_hwc, ROWS, COLS)
    buf = io.BytesIO()
    Image.fromarray(mosaic).save(buf, format="WEBP", lossless=True, quality=100, method=6, exact=True)
    webp = buf.getvalue()
    back = untile(np.asarray(Image.open(io.BytesIO(webp)).convert("RGB")), ROWS, COLS)
    if not np.array_equal(back, images_hwc):
        raise RuntimeError("lossless WebP round trip is not exact")
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as f:
        np.savez(f, webp=np.frombuffer(webp, np.uint8), grid=np.array([ROWS, COLS]),
                 labels=labels.astype(np.uint8), classes=np.array(classes),
                 sha256=np.array(pixels_sha256(images_hwc)))
    return out.stat().st_size


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", type=Path, required=True,
                   help="cifar10_lossless_5k.npz: test_x (uint8 N x 32 x 32 x 3) and test_y, exact pixels")
    p.add_argument("--out", type=Path, default=EMBEDDED_PATH)
    args = p.parse_args(argv)
    src = args.source
    if not src.is_file():
        print(f"error: lossless source not found: {src}", file=sys.stderr)
        return 1
    with np.load(src, allow_pickle=False) as z:
        x, y = z["test_x"], z["test_y"]
        classes = tuple(str(c) for c in z["classes"]) if "classes" in z.files else CIFAR10_CLASSES
    if x.shape != (ROWS * COLS, 32, 32, 3) or x.dtype != np.uint8:
        print(f"error: expected test_x uint8 (1000, 32, 32, 3), got {x.dtype} {x.shape}", file=sys.stderr)
        return 1
    t = time.time()
    size = encode(x, y, classes, args.out)
    print(f"wrote {args.out} ({size / 1e6:.3f} MB, {time.time() - t:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
