"""The captioning picture: scenes with their captions, coloured by whether they are right."""

import numpy as np

from cnnlab.inspect.captioning import RIGHT, WRONG, captions_picture


def test_picture_has_a_tile_per_scene_with_coloured_captions():
    images = np.zeros((3, 64, 64), np.float32)
    picture = captions_picture(images, ["4 1 7", "2", "3 3"], ["4 1 7", "5", "3 3"], ncols=2)
    assert picture.shape == (2 * (128 + 20 + 2) + 2, 2 * (128 + 2) + 2, 3)
    assert picture.dtype == np.float32 and picture.min() >= 0 and picture.max() <= 1

    def has(colour, tile_row, tile_col):
        """Whether the tile's caption strip has a pixel of ``colour``'s hue (the text is antialiased)."""
        top, left = 2 + tile_row * 150 + 128, 2 + tile_col * 130
        strip = picture[top:top + 20, left:left + 128]
        dominant = int(np.argmax(colour))                     # red for WRONG, green for RIGHT
        others = [c for c in range(3) if c != dominant]
        return (strip[..., dominant] - strip[..., others].max(axis=2) > 0.3).any()

    assert has(RIGHT, 0, 0) and not has(WRONG, 0, 0)
    assert has(WRONG, 0, 1) and not has(RIGHT, 0, 1)
    assert has(RIGHT, 1, 0)
