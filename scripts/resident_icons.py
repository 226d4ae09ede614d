"""Draw the residents' page's app icons (committed PNGs in apps/http/resident/static/icons/): a house with a
water drop on the page's dark blue; ``maskable-512.png`` keeps the drawing in the central safe zone.

    .venv/bin/python scripts/resident_icons.py
"""
from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parents[1] / "apps" / "http" / "resident" / "static" / "icons"
BLUE, WHITE, DROP = (11, 61, 110, 255), (255, 255, 255, 255), (58, 160, 255, 255)


def draw(size: int, *, safe: float) -> Image.Image:
    """The icon at ``size`` px; the drawing fills the central ``safe`` fraction."""
    big = size * 4                                    # drawn large, scaled down: smooth edges
    img = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    if safe < 1:
        d.rectangle((0, 0, big, big), fill=BLUE)      # maskable: full bleed
    else:
        d.rounded_rectangle((0, 0, big - 1, big - 1), radius=big // 6, fill=BLUE)
    m = big * (1 - safe) / 2 + big * 0.16
    w = big - 2 * m
    x0, y0 = m, m
    # the house: a roof and a body
    d.polygon([(x0 + w * 0.5, y0), (x0 + w, y0 + w * 0.45), (x0, y0 + w * 0.45)], fill=WHITE)
    d.rectangle((x0 + w * 0.12, y0 + w * 0.42, x0 + w * 0.88, y0 + w), fill=WHITE)
    # the drop: a circle and a triangle on top
    cx, cy, r = x0 + w * 0.5, y0 + w * 0.74, w * 0.17
    d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=DROP)
    d.polygon([(cx, cy - r * 2.1), (cx + r * 0.93, cy - r * 0.38), (cx - r * 0.93, cy - r * 0.38)], fill=DROP)
    return img.resize((size, size), Image.LANCZOS)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    draw(192, safe=1.0).save(OUT / "icon-192.png", optimize=True)
    draw(512, safe=1.0).save(OUT / "icon-512.png", optimize=True)
    draw(512, safe=0.8).save(OUT / "maskable-512.png", optimize=True)


if __name__ == "__main__":
    main()
