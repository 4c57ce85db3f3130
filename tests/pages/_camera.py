"""A fake camera for Chromium: a YUV4MPEG2 (.y4m) video made from a picture of a QR code.

Chromium's ``--use-file-for-fake-video-capture`` plays the file in a loop as the camera; it opens
the file each time a page starts capturing, so rewriting it changes what the next scan sees.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

WIDTH, HEIGHT = 640, 480


def write_y4m(picture: Image.Image | None, path: Path, *, frames: int = 3) -> None:
    """Write ``picture`` centred on white, ``WIDTH`` x ``HEIGHT``, as 4:2:0 y4m (blank if None)."""
    canvas = Image.new("RGB", (WIDTH, HEIGHT), "white")
    if picture is not None:
        picture = picture.convert("RGB")
        side = min(WIDTH, HEIGHT) - 40
        scale = min(side / picture.width, side / picture.height)
        size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
        picture = picture.resize(size, Image.Resampling.NEAREST)
        canvas.paste(picture, ((WIDTH - size[0]) // 2, (HEIGHT - size[1]) // 2))
    y, cb, cr = canvas.convert("YCbCr").split()
    half = (WIDTH // 2, HEIGHT // 2)
    cb = cb.resize(half, Image.Resampling.BILINEAR)
    cr = cr.resize(half, Image.Resampling.BILINEAR)
    frame = b"FRAME\n" + y.tobytes() + cb.tobytes() + cr.tobytes()
    header = f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F10:1 Ip A1:1 C420jpeg\n".encode()
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(header + frame * frames)
    tmp.replace(path)


def camera_args(y4m: Path) -> list[str]:
    """Chromium flags: grant the camera without asking, and play ``y4m`` as the camera."""
    return [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={y4m}",
    ]
