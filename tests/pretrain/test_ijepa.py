"""The I-JEPA model: exact padding, no leak of hidden patches, EMA update and the schedules."""
import math

import pytest
import torch
from mmengine.config import Config
from mmengine.optim.scheduler import _ParamScheduler
from mmengine.registry import PARAM_SCHEDULERS
from torch.utils.flop_counter import FlopCounterMode

from tests.helpers import ROOT, repaint_outside
from pretrain import IJEPA, MultiBlockMaskSampler, ema_momentum

TINY = dict(encoder=dict(embed_dim=64, depth=3, num_heads=4, img_size=96, patch_size=8),
            predictor=dict(width=32, depth=2))


def _model(predictor=None, **encoder):
    torch.manual_seed(0)
    return IJEPA(encoder=dict(TINY['encoder'], **encoder),
                 predictor=dict(TINY['predictor'], **(predictor or {}))).eval()


def _padded_masks():
    sampler = MultiBlockMaskSampler(input_size=96, patch_size=8)
    for step in range(50):
        masks = sampler(4, step=step, rank=0)
        if masks['context_valid'] is not None:
            return masks
    raise AssertionError('no padded batch drawn')


def test_padding_is_exact_each_image_as_if_alone():
    model, masks = _model(), _padded_masks()
    images = torch.randn(4, 3, 96, 96)
    with torch.no_grad():
        ctx = model.encode_context(images, masks['context'], masks['context_valid'])
        pred = model.predictor(ctx, masks['context'], masks['context_valid'], masks['targets'])
        for i in range(4):
            keep = masks['context'][i][masks['context_valid'][i]][None]
            alone = model.encode_context(images[i:i + 1], keep, None)
            torch.testing.assert_close(ctx[i, :keep.shape[1]], alone[0], atol=1e-5, rtol=1e-5)
            alone_pred = model.predictor(alone, keep, None, masks['targets'][i:i + 1])
            torch.testing.assert_close(pred[i], alone_pred[0], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize('cls', [False, True])
def test_hidden_patches_never_reach_the_context_or_the_predictions(cls):
    model, masks = _model(use_cls_token=cls), _padded_masks()
    images = torch.randn(4, 3, 96, 96)
    changed = images.clone()
    for i in range(4):  # repaint every patch outside image i's context
        visible = set(masks['context'][i][masks['context_valid'][i]].tolist())
        repaint_outside(changed, i, visible)
    with torch.no_grad():
        outs = []
        for x in (images, changed):
            ctx = model.encode_context(x, masks['context'], masks['context_valid'])
            outs.append(model.predictor(ctx, masks['context'], masks['context_valid'],
                                        masks['targets']))
    torch.testing.assert_close(outs[0], outs[1])
    with torch.no_grad():  # while the target encoder, which sees everything, does change
        assert not torch.allclose(model.target_tokens(images), model.target_tokens(changed))


@pytest.mark.slow
def test_compiled_blocks_take_the_eager_step_and_really_run_compiled():
    from torch._dynamo.utils import counters
    from benchmarks.step_timing import compiled_block_halves
    eager = _model(grad_checkpointing=True).train()
    compiled = _model(dict(compile_blocks=True), grad_checkpointing=True, compile_blocks=True)
    compiled.train()
    sampler = MultiBlockMaskSampler(input_size=96, patch_size=8)
    lengths, graphs = set(), []
    for step in range(3):
        masks, images = sampler(4, step=step, rank=0), torch.randn(4, 3, 96, 96)
        lengths.add(int(masks['context_valid'].sum()))  # tokens packed in the context encoder
        for model in (eager, compiled):
            model.zero_grad()
            model.loss(images, masks)['loss'].backward()
        for (name, a), b in zip(eager.named_parameters(), compiled.parameters()):
            if a.grad is not None:
                torch.testing.assert_close(b.grad, a.grad, atol=1e-6, rtol=1e-5, msg=name)
        graphs.append(counters['stats']['unique_graphs'])
    assert len(lengths) == 3 and graphs[0] == graphs[-1]  # new context lengths, no new graph
    with FlopCounterMode(display=False):  # a dispatch mode: these calls run eagerly ...
        compiled.loss(images, masks)['loss'].backward()
    ran, halves = compiled_block_halves(  # ... and later ones compiled again
        lambda: compiled.loss(images, masks)['loss'].backward(), compiled)
    assert ran == halves == 2 * (3 + 3 + 3 + 2)  # target, context + its recompute, predictor


def test_images_of_another_size_than_the_masks_grid_are_refused():
    model, masks = _model(), _padded_masks()
    with pytest.raises(ValueError, match='images are 104x104 pixels but the encoder and its masks '
                       'are built for 96x96'):
        model(torch.randn(4, 3, 104, 104), masks)  # 13x13 patches: the masks index a 12x12 grid


def test_target_encoder_stays_in_eval_mode():
    model = _model()
    model.train()
    assert model.context_encoder.training and model.predictor.training
    assert not any(m.training for m in model.target_encoder.modules())


def test_ema_update_is_the_convex_combination():
    model = _model()
    with torch.no_grad():
        for p in model.context_encoder.parameters():
            p.add_(torch.randn_like(p))
    before = [p.clone() for p in model.target_encoder.parameters()]
    model.update_target(0.9)
    for t, old, s in zip(model.target_encoder.parameters(), before,
                         model.context_encoder.parameters()):
        torch.testing.assert_close(t, 0.9 * old + 0.1 * s)
    assert not any(p.requires_grad for p in model.target_encoder.parameters())


def test_loss_is_smooth_l1_against_layer_normed_targets():
    model, masks = _model(), _padded_masks()
    images = torch.randn(4, 3, 96, 96)
    with torch.no_grad():
        loss = model.loss(images, masks)['loss']
        target = model.target_encoder.forward_features(images)
        target = torch.nn.functional.layer_norm(target, (64,))
        target = torch.stack([target[i][masks['targets'][i]] for i in range(4)])
        ctx = model.encode_context(images, masks['context'], masks['context_valid'])
        pred = model.predictor(ctx, masks['context'], masks['context_valid'], masks['targets'])
        diff = (pred - target).abs()
        expected = torch.where(diff < 1, 0.5 * diff ** 2, diff - 0.5).mean()
    torch.testing.assert_close(loss, expected)


def test_schedules_of_the_paper_recipe():
    cfg = Config.fromfile(f'{ROOT}/configs/pretrain/ijepa_vitb16_in1k.py')
    per_epoch, epochs = 4, 600
    total, warm = per_epoch * epochs, per_epoch * 15
    param = torch.nn.Parameter(torch.zeros(2))
    bias = torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.AdamW([dict(params=[param]), dict(params=[bias], weight_decay=0.0)],
                            lr=cfg.optim_wrapper.optimizer.lr,
                            weight_decay=cfg.optim_wrapper.optimizer.weight_decay)
    schedulers = []
    for s in cfg.param_scheduler:
        s = dict(s)
        s.pop('convert_to_iter_based')
        s.setdefault('end', cfg.train_cfg.max_epochs)  # what the runner fills in
        cls = PARAM_SCHEDULERS.get(s.pop('type'))
        schedulers.append(cls.build_iter_from_epoch(optimizer=opt, epoch_length=per_epoch, **s))
    assert all(isinstance(s, _ParamScheduler) for s in schedulers)
    seen = {}
    for t in range(total):
        seen[t] = (opt.param_groups[0]['lr'], opt.param_groups[0]['weight_decay'],
                   opt.param_groups[1]['weight_decay'])
        opt.step()
        for s in schedulers:
            s.step()
    for t in (0, 1, warm // 2, warm, warm + 1, total // 2, total - 1):
        # mmengine's LinearLR reaches the peak on the last warm-up step, warm - 1
        lr = (1e-4 + (1e-3 - 1e-4) * t / (warm - 1) if t < warm else
              1e-6 + (1e-3 - 1e-6) * 0.5 * (1 + math.cos(math.pi * (t - warm) / (total - warm))))
        wd = 0.4 + (0.04 - 0.4) * 0.5 * (1 + math.cos(math.pi * t / total))
        assert seen[t][0] == pytest.approx(lr, rel=1e-6), t
        assert seen[t][1] == pytest.approx(wd, rel=1e-6), t
        assert seen[t][2] == 0.0  # biases and 1-D parameters never decay
    assert ema_momentum(0, total, 0.996, 1.0) == 0.996
    assert ema_momentum(total // 4, total, 0.996, 1.0) == pytest.approx(0.997)
    assert ema_momentum(total, total, 0.996, 1.0) == 1.0


def test_the_progress_hook_sets_the_models_step_and_moves_the_target_by_its_momentum():
    from mmengine.logging import MessageHub
    from pretrain import TrainingProgressHook
    torch.manual_seed(0)
    model = IJEPA(encoder=dict(embed_dim=32, depth=2, num_heads=2, img_size=32, patch_size=8),
                  predictor=dict(width=16, depth=1), ema_momentum=(0.5, 1.0))
    with torch.no_grad():
        for p in model.context_encoder.parameters():
            p.add_(1.0)
    runner = type('Runner', (), dict(iter=5, max_iters=20, model=model,
                                     message_hub=MessageHub.get_instance('progress-test')))
    before = [p.clone() for p in model.target_encoder.parameters()]
    hook = TrainingProgressHook()
    hook.before_train_iter(runner, 0)
    assert (model.step, model.total_steps, model.progress) == (5, 20, 0.25)
    hook.after_train_iter(runner, 0)
    m = ema_momentum(5, 20, 0.5, 1.0)
    assert runner.message_hub.get_scalar('train/ema_momentum').current() == m == 0.625
    for old, new, src in zip(before, model.target_encoder.parameters(),
                             model.context_encoder.parameters()):
        torch.testing.assert_close(new, m * old + (1 - m) * src)
