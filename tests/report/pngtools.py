"""A tiny PNG reader/writer (zlib + NumPy) for checking screenshots without extra packages.

Reads 8-bit, non-interlaced greyscale/RGB/RGBA images with any of the five row filters.  Rows are
unfiltered along anti-diagonals (pixel (r, x) needs only (r, x−1), (r−1, x) and (r−1, x−1)), so
the work is a few thousand vectorised steps instead of a Python loop over every byte.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}


def read_png(path) -> np.ndarray:
    """``[H, W, C]`` uint8 pixels of an 8-bit non-interlaced PNG."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    pos, idat, hdr = 8, [], None
    while pos < len(data):
        n, = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    if hdr is None:
        raise ValueError("PNG without IHDR")
    w, h, depth, color, _, _, interlace = hdr
    if depth != 8 or interlace or color not in _CHANNELS:
        raise ValueError(f"unsupported PNG (bit depth {depth}, colour type {color}, interlace {interlace})")
    bpp = _CHANNELS[color]
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), dtype=np.uint8).reshape(h, w * bpp + 1)
    filt = raw[:, 0].astype(np.int64)
    px = raw[:, 1:].reshape(h, w, bpp).astype(np.int64)
    out = np.zeros((h + 1, w + 1, bpp), dtype=np.int64)   # padded: row 0 and column 0 are zeros
    rows_all = np.arange(h)
    for k in range(h + w - 1):
        r = rows_all[max(0, k - w + 1):min(h - 1, k) + 1]
        x = k - r
        f = filt[r][:, None]
        cur = px[r, x]
        a, b, c = out[r + 1, x], out[r, x + 1], out[r, x]
        p = a + b - c
        pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
        paeth = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
        pred = np.select([f == 1, f == 2, f == 3, f == 4], [a, b, (a + b) // 2, paeth], 0)
        out[r + 1, x + 1] = (cur + pred) & 0xFF
    return out[1:, 1:].astype(np.uint8)


def write_png(path, img: np.ndarray) -> None:
    """Write ``[H, W, C]`` uint8 (C = 1, 3 or 4) without filtering."""
    img = np.ascontiguousarray(img, dtype=np.uint8)
    h, w, c = img.shape
    color = {1: 0, 3: 2, 4: 6}[c]
    raw = np.concatenate([np.zeros((h, 1), np.uint8), img.reshape(h, w * c)], axis=1).tobytes()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    with open(path, "wb") as fh:
        fh.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0))
                 + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))
