"""Captions for people: scenes with the captions a model wrote under them (the README's picture)."""

import numpy as np

from .images import grid, to_rgb, upscale

RIGHT, WRONG, TRUTH = (0.1, 0.55, 0.1), (0.8, 0.1, 0.1), (0.4, 0.4, 0.4)


def caption_tile(image, caption, truth=None, scale=2, strip=20):
    """One scene (H, W) in [0, 1], enlarged ``scale`` times, over a strip with its caption.

    With ``truth``, the caption is green when it equals it, else red with the truth after it in grey.
    """
    from PIL import Image, ImageDraw, ImageFont

    picture = upscale(to_rgb(image), scale)
    h, w = picture.shape[:2]
    canvas = Image.new("RGB", (w, h + strip), "white")
    canvas.paste(Image.fromarray(np.round(picture * 255).astype(np.uint8)), (0, 0))
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=15)
    colour = RIGHT if truth is None or caption == truth else WRONG
    text = caption or "(none)"
    draw.text((3, h + 2), text, fill=tuple(int(c * 255) for c in colour), font=font)
    if truth is not None and caption != truth:
        x = 3 + draw.textlength(text + "  ", font=font)
        draw.text((x, h + 2), f"({truth})", fill=tuple(int(c * 255) for c in TRUTH), font=font)
    return np.asarray(canvas, np.float32) / 255


def captions_picture(images, captions, truths=None, ncols=4, scale=2):
    """Scenes (N, H, W) in [0, 1] with their captions below, in a grid of ``ncols`` columns.

    Shape: N scenes (H, W) -> one picture
    (rows * (scale*H + 20 + 2) + 2, ncols * (scale*W + 2) + 2, 3).
    """
    truths = truths if truths is not None else [None] * len(captions)
    tiles = [caption_tile(i, c, t, scale) for i, c, t in zip(images, captions, truths)]
    return grid(tiles, ncols=ncols)
