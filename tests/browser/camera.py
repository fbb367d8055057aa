"""A camera for the till's scanner: Chromium's fake capture device playing a QR code.

Chromium reads a Y4M file as the video of a fake camera
(``--use-file-for-fake-video-capture``), so a test shows the till a printed
card or a phone's card the way a real camera would, and the page's own
scanner code (jsQR, served by the app) reads it.
"""

from __future__ import annotations

from pathlib import Path

import qrcode
from PIL import Image

WIDTH, HEIGHT = 640, 480


def qr_video(text: str, path: Path, frames: int = 30) -> Path:
    """A Y4M video of a still QR code of ``text`` on white, in grey (4:2:0)."""
    image = qrcode.make(text, box_size=8, border=4).get_image().convert("L")
    side = min(HEIGHT - 40, image.size[0])
    image = image.resize((side, side), Image.Resampling.NEAREST)
    frame = Image.new("L", (WIDTH, HEIGHT), 255)
    frame.paste(image, ((WIDTH - side) // 2, (HEIGHT - side) // 2))
    luma = frame.tobytes()
    chroma = bytes([128]) * (WIDTH // 2 * HEIGHT // 2)
    with path.open("wb") as f:
        f.write(f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            f.write(b"FRAME\n" + luma + chroma + chroma)
    return path


def camera_args(video: Path) -> list[str]:
    """Chromium's switches for a camera that plays ``video``, allowed without asking."""
    return [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    ]
