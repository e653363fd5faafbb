"""mmcv must carry its compiled CPU ops: Mask R-CNN needs NMS and RoIAlign."""
import torch


def test_nms_keeps_the_non_overlapping_boxes():
    from mmcv.ops import nms
    boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.], [20., 20., 30., 30.]])
    dets, keep = nms(boxes, torch.tensor([0.9, 0.8, 0.7]), iou_threshold=0.5)
    assert keep.tolist() == [0, 2]
    assert torch.allclose(dets[:, 4], torch.tensor([0.9, 0.7]))


def test_roi_align_averages_a_linear_ramp_exactly():
    from mmcv.ops import RoIAlign
    ramp = torch.arange(16.).repeat(16, 1)[None, None]  # value = x coordinate of the pixel
    roi = torch.tensor([[0., 2., 2., 10., 10.]])  # aligned=True: pixel centres at integer + 0.5
    out = RoIAlign((2, 2), spatial_scale=1.0, sampling_ratio=2, aligned=True)(ramp, roi)
    # bins cover x in [2, 6] and [6, 10]; samples at 3 and 5 / 7 and 9, minus the 0.5 offset
    expected = torch.tensor([[3.5, 7.5], [3.5, 7.5]])
    assert torch.allclose(out[0, 0], expected)
