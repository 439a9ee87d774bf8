"""PMSP labels (Algorithm 1) on motion fields whose answers are known at every level."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from imrkit.errors import ConfigError, ShapeError
from imrkit.transforms.pmsp_labels import (
    NUM_PMSP_LABELS,
    PMSP_LEVELS,
    level_slices,
    pmsp_label_tensor,
    pmsp_labels,
    pmsp_magnitudes,
    split_label_tensor,
)

SIZE = 48  # divisible by 2, 3 and 4: cells of 24, 16 and 12 pixels
FRAMES_PER_GOP = 5

# One moving 2x2 patch per GOP: (row, col, component, amplitude). Every patch and its
# 4x4 Prewitt footprint sits inside one cell at every scale (no cell edge at multiples of
# 12 or 16 within rows/cols [p - 1, p + 2]), and no two footprints overlap, so a cell's
# motion energy is (energy of one unit patch) x (sum of its patches' amplitudes).
PATCHES = [
    (4, 4, 0, 3.0),  # GOP 0: top-left,        x motion
    (4, 40, 1, 2.0),  # GOP 1: top-right,       y motion
    (40, 5, 0, 2.5),  # GOP 2: bottom-left
    (40, 40, 1, 4.0),  # GOP 3: bottom-right
    (19, 28, 0, 1.5),  # GOP 4: cell 1 of 2x2, cell 4 of 3x3, cell 6 of 4x4
]


def patch_motion(patches=PATCHES, size=SIZE) -> np.ndarray:
    """Reader-layout motion (5T, H, W, 2): GOP g's P-frames carry patch g."""
    motion = np.zeros((len(patches) * FRAMES_PER_GOP, size, size, 2), np.float32)
    for gop, (row, col, component, amplitude) in enumerate(patches):
        # Spread over the GOP's P-frames unevenly: only the GOP sum should matter.
        for frame, share in zip(range(FRAMES_PER_GOP), (0.1, 0.3, 0.2, 0.25, 0.15), strict=True):
            motion[gop * FRAMES_PER_GOP + frame, row : row + 2, col : col + 2, component] = (
                amplitude * share
            )
    return motion


def oracle_label(patches, gops, s, size=SIZE) -> int:
    """The argmax cell computed from the patch list, without any image processing."""
    energy = np.zeros(s * s)
    cell = size // s
    for gop in gops:
        row, col, _, amplitude = patches[gop]
        energy[(row // cell) * s + col // cell] += amplitude
    assert np.sort(energy)[-1] > np.sort(energy)[-2], "the design must not tie"
    return int(energy.argmax())


def test_known_answers_at_every_level():
    labels = pmsp_labels(patch_motion(), num_gops=5)
    assert set(labels) == set(PMSP_LEVELS)
    for s, t in PMSP_LEVELS:
        windows = [range(n, n + 5 - t + 1) for n in range(t)]  # GOPs [n, n + T - t]
        expected = [oracle_label(PATCHES, gops, s) for gops in windows]
        np.testing.assert_array_equal(labels[(s, t)], expected, err_msg=f"level {(s, t)}")
    # Written out for the reader (2x2 quadrants 0 1 / 2 3): over the whole clip top-left
    # has 3.0, top-right 2.0 + 1.5, bottom-left 2.5, bottom-right 4.0.
    assert labels[(2, 1)].tolist() == [3]
    # t=3, GOPs [0..2]: top-left 3.0 wins; [1..3] and [2..4]: bottom-right 4.0.
    assert labels[(2, 3)].tolist() == [0, 3, 3]
    # t=5: every GOP alone, its patch's cell.
    assert labels[(2, 5)].tolist() == [0, 1, 2, 3, 1]
    assert labels[(3, 5)].tolist() == [0, 2, 6, 8, 4]
    assert labels[(4, 5)].tolist() == [0, 3, 12, 15, 6]


def test_t3_windows_have_distinct_answers():
    # A design where each overlapping window has its own winner (guards the window bounds).
    patches = [
        (4, 4, 0, 5.0),  # GOP 0: top-left, strong
        (4, 40, 1, 1.0),  # GOP 1: top-right
        (40, 5, 0, 2.0),  # GOP 2: bottom-left
        (40, 40, 1, 2.5),  # GOP 3: bottom-right
        (4, 40, 0, 3.0),  # GOP 4: top-right again (different component, same cell)
    ]
    labels = pmsp_labels(patch_motion(patches), num_gops=5)
    # [0..2]: TL 5; [1..3]: BR 2.5 vs BL 2 vs TR 1; [2..4]: TR 3 vs BR 2.5 vs BL 2.
    assert labels[(2, 3)].tolist() == [0, 3, 1]
    for s in (3, 4):
        expected = [oracle_label(patches, range(n, n + 3), s) for n in range(3)]
        assert labels[(s, 3)].tolist() == expected
        assert len(set(expected)) == 3


def test_each_component_uses_its_own_derivative():
    # Strong x motion that changes only down the rows (a band over the full width) has no
    # Prewitt_x response; weak y motion starting at row 10 in the right half has a Prewitt_y
    # response there and must win. Swapping the derivatives would pick the band's edge.
    motion = np.zeros((25, SIZE, SIZE, 2), np.float32)
    motion[:, 30:, :, 0] = 10.0
    motion[:, 10:, 24:, 1] = 1.0
    labels = pmsp_labels(motion)
    assert labels[(2, 1)].tolist() == [1]
    assert labels[(4, 1)].tolist() == [3]  # rows 9-10 lie in the first 12-row band


def test_uniform_motion_has_no_energy_and_labels_cell_zero():
    # A camera pan: the same vector everywhere. Reflect-101 borders give zero gradient.
    motion = np.full((25, SIZE, SIZE, 2), 3.0, np.float32)
    for cells in pmsp_magnitudes(motion).values():
        assert np.abs(cells).max() < 1e-4
    for labels in pmsp_labels(np.zeros_like(motion)).values():
        assert (labels == 0).all()


def naive_magnitudes(motion, s, t, num_gops=5):
    """Algorithm 1 literally: per-frame Prewitt with OpenCV, window sums, loops over cells."""
    height, width = motion.shape[1:3]
    kernel_x = np.array([[-1, 0, 1]] * 3, np.float64)
    dx = np.stack([cv2.filter2D(f[..., 0].astype(np.float64), -1, kernel_x) for f in motion])
    dy = np.stack([cv2.filter2D(f[..., 1].astype(np.float64), -1, kernel_x.T) for f in motion])
    per_gop = len(motion) // num_gops
    rows = np.round(np.linspace(0, height, s + 1)).astype(int)
    cols = np.round(np.linspace(0, width, s + 1)).astype(int)
    out = []
    for n in range(t):
        frames = slice(n * per_gop, (n + num_gops - t + 1) * per_gop)
        magnitude = np.hypot(dx[frames].sum(0), dy[frames].sum(0))
        out.append(
            [
                [magnitude[rows[i] : rows[i + 1], cols[j] : cols[j + 1]].sum() for j in range(s)]
                for i in range(s)
            ]
        )
    return np.array(out)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("height,width", [(48, 48), (50, 66), (7, 9)])
def test_magnitudes_match_a_literal_implementation(height, width, backend):
    motion = np.random.default_rng(height).normal(size=(25, height, width, 2)).astype(np.float32)
    magnitudes = pmsp_magnitudes(motion, backend=backend)
    for s, t in PMSP_LEVELS:
        expected = naive_magnitudes(motion, s, t)
        np.testing.assert_allclose(magnitudes[(s, t)], expected, rtol=1e-4, atol=1e-3)


def test_batch_numpy_torch_and_layouts_agree():
    rng = np.random.default_rng(1)
    batch = rng.normal(size=(3, 25, 32, 40, 2)).astype(np.float32)
    batched = pmsp_labels(batch)
    as_torch = pmsp_labels(torch.from_numpy(batch))
    model_layout = pmsp_labels(np.moveaxis(batch, -1, 1), layout="model")
    torch_backend = pmsp_labels(torch.from_numpy(batch), backend="torch")
    for level in PMSP_LEVELS:
        assert batched[level].shape == (3, level[1])
        assert isinstance(batched[level], np.ndarray)
        assert isinstance(as_torch[level], torch.Tensor)
        np.testing.assert_array_equal(as_torch[level].numpy(), batched[level])
        np.testing.assert_array_equal(model_layout[level], batched[level])
        np.testing.assert_array_equal(torch_backend[level].numpy(), batched[level])
        for index in range(3):
            np.testing.assert_array_equal(pmsp_labels(batch[index])[level], batched[level][index])


def test_label_tensor_order_and_split():
    rng = np.random.default_rng(2)
    motion = torch.from_numpy(rng.normal(size=(2, 2, 25, 32, 32)).astype(np.float32))
    tensor = pmsp_label_tensor(motion)
    assert tensor.shape == (2, NUM_PMSP_LABELS) and tensor.dtype == torch.int64
    labels = pmsp_labels(motion, layout="model")
    for level, where in level_slices().items():
        assert torch.equal(tensor[:, where], labels[level])
    assert all(torch.equal(split_label_tensor(tensor)[lv], labels[lv]) for lv in PMSP_LEVELS)
    assert pmsp_label_tensor(motion[0]).shape == (NUM_PMSP_LABELS,)
    # Labels ignore a positive rescaling of the vectors (the transforms' normalisation).
    assert torch.equal(pmsp_label_tensor(motion * 0.0625), tensor)
    assert PMSP_LEVELS[:3] == ((2, 1), (3, 1), (4, 1))


def test_bad_input_raises():
    with pytest.raises(ShapeError, match="motion"):
        pmsp_labels(np.zeros((25, 8, 8, 3), np.float32))
    with pytest.raises(ShapeError, match="num_gops"):
        pmsp_labels(np.zeros((24, 8, 8, 2), np.float32), num_gops=5)
    with pytest.raises(ShapeError):
        pmsp_labels(np.zeros((8, 8, 2), np.float32))
    with pytest.raises(ConfigError, match="t=5"):
        pmsp_labels(np.zeros((15, 8, 8, 2), np.float32), num_gops=3)
    with pytest.raises(ShapeError, match="smaller than the 4-cell grid"):
        pmsp_labels(np.zeros((25, 3, 8, 2), np.float32))
    with pytest.raises(ConfigError, match="backend"):
        pmsp_labels(np.zeros((25, 8, 8, 2), np.float32), backend="cuda")
    with pytest.raises(ConfigError, match="layout"):
        pmsp_labels(np.zeros((25, 8, 8, 2), np.float32), layout="nchw")
