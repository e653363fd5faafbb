"""select_regions equals the per-image OpenCV reference (Otsu + 8-connected components)."""
import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from pretrain.regions import otsu_threshold, select_regions


def opencv_otsu(levels: np.ndarray) -> float:
    """OpenCV's Otsu threshold. Its Intel IPP fast path (on by default in x86 builds) computes in
    another precision and picks differently on exact ties, so the reference is OpenCV's own code."""
    with_ipp = cv2.ipp.useIPP()
    cv2.ipp.setUseIPP(False)
    try:
        return cv2.threshold(levels, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)[0]
    finally:
        cv2.ipp.setUseIPP(with_ipp)


def opencv_regions(sal: np.ndarray, num_regions: int = 5, min_area: float = 0.15) -> np.ndarray:
    """SPEC section 3, point 3, image by image with OpenCV."""
    h, w = sal.shape
    levels = np.floor(sal * np.float32(255)).clip(0, 255).astype(np.uint8)
    threshold = opencv_otsu(levels)
    count, labels = cv2.connectedComponents((levels > threshold).astype(np.uint8), connectivity=8)
    components = []
    for c in range(1, count):
        mask = labels == c
        if mask.sum() >= min_area * h * w:
            components.append((sal[mask].astype(np.float64).sum() / mask.sum(), mask))
    components.sort(key=lambda item: -item[0])  # stable: equal scores keep OpenCV's label order
    out = np.zeros((num_regions, h * w), dtype=bool)
    for r, (_, mask) in enumerate(components[:num_regions - 1]):
        out[r] = mask.ravel()
    out[-1] = ~out[:-1].any(0)
    return out


def normalise(a: torch.Tensor) -> torch.Tensor:
    """The saliency normalisation of SPEC section 3: (A - min) / (max - min + 1e-6) per map."""
    flat = a.flatten(1)
    lo, hi = flat.min(1, keepdim=True).values, flat.max(1, keepdim=True).values
    return ((flat - lo) / (hi - lo + 1e-6)).view_as(a)


def smooth_maps(count: int, size: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    noise = torch.randn(count, 1, size, size, generator=g)
    blur = torch.tensor([1., 4., 6., 4., 1.])
    kernel = (blur[:, None] * blur[None, :] / 256).view(1, 1, 5, 5)
    for _ in range(int(torch.randint(1, 4, (1,), generator=g))):
        noise = F.conv2d(F.pad(noise, (2, 2, 2, 2), mode='replicate'), kernel)
    return normalise(noise[:, 0])


def assert_matches_opencv(maps: torch.Tensor, **kwargs) -> None:
    ours = select_regions(maps, **kwargs).numpy()
    for i, sal in enumerate(maps.numpy()):
        np.testing.assert_array_equal(ours[i], opencv_regions(sal, **kwargs), err_msg=f'map {i}')


@pytest.mark.parametrize('size,count', [(14, 1500), (16, 600), (32, 250)])
def test_random_smooth_maps(size, count):
    assert_matches_opencv(smooth_maps(count, size, seed=size))


@pytest.mark.parametrize('size', [14, 32])
def test_random_noise_maps_with_many_small_components(size):
    g = torch.Generator().manual_seed(1)
    assert_matches_opencv(normalise(torch.rand(300, size, size, generator=g)))
    assert_matches_opencv(normalise(torch.rand(300, size, size, generator=g)), min_area=0.0)


def test_flat_maps_have_no_region():
    maps = torch.stack([torch.zeros(14, 14), normalise(torch.full((1, 14, 14), 3.0))[0],
                        torch.full((14, 14), 0.5)])
    assert_matches_opencv(maps)
    regions = select_regions(maps)
    # normalised flat maps are all zero: nothing is above Otsu's threshold (0)
    assert not regions[:2, :4].any() and regions[:2, 4].all()
    # a flat map at a non-zero level is all above it: one region covering the grid
    assert regions[2, 0].all()


def test_few_levels_ties_at_the_threshold():
    g = torch.Generator().manual_seed(2)
    levels = torch.randint(0, 4, (400, 14, 14), generator=g).float()
    coarse = F.interpolate(torch.randint(0, 3, (400, 1, 4, 4), generator=g).float(), size=(14, 14))
    assert_matches_opencv(normalise(levels))
    assert_matches_opencv(normalise(coarse[:, 0]))
    assert_matches_opencv(normalise(coarse[:, 0] * 85 / 255), min_area=0.0)


def test_tied_otsu_thresholds_follow_opencv():
    # 58 / 80 / 58 patches at levels 0 / 127 / 254: thresholds 0 and 127 tie exactly and OpenCV
    # keeps the first (its IPP path, computing in another precision, returns 127)
    levels = torch.tensor([0] * 58 + [127] * 80 + [254] * 58)[None]
    assert otsu_threshold(levels).item() == 0 == opencv_otsu(levels.numpy().astype(np.uint8))


def test_ties_in_score_keep_raster_order():
    sal = torch.zeros(2, 14, 14)
    sal[:, 1:7, 1:7] = 0.8  # two blobs of the same size and value...
    sal[:, 8:14, 7:13] = 0.8
    sal[1, 8:14, 7:13] = 0.9  # ...except in the second map, where the lower one wins
    regions = select_regions(sal)
    assert_matches_opencv(sal)
    top = regions[:, 0].view(2, 14, 14)
    assert top[0, 1, 1] and top[1, 8, 7]


def test_regions_are_disjoint_and_cover_the_grid():
    regions = select_regions(smooth_maps(200, 16, seed=3), num_regions=7, min_area=0.05)
    assert regions.shape == (200, 7, 256)
    assert torch.equal(regions.sum(1), torch.ones(200, 256, dtype=torch.long))
