"""The released encoders' checkpoint layouts (SPEC 4i) read into the suite's ViT, and the layouts it
writes: the DSeq-JEPA authors' file against a forward written from their definition, timm's ViT
families against timm itself, the timm folders the suite writes loaded by timm, and round trips."""
import importlib
import math
import re
import shutil
import subprocess
import sys
import uuid

import pytest
import safetensors.torch
import timm
import torch
import torch.nn.functional as F

from backbones import (JEPAViT, VisionTransformer, encoder_state_dict, read_weights_file,
                       release_networks, save_timm_folder, to_release)
from transfer.features import IMAGENET_MEAN, IMAGENET_STD, probe_features
from transfer.probe import LinearProbe
from tests.helpers import ROOT

TINY = dict(embed_dim=64, depth=2, num_heads=4)

# ------------------------------------------------------------------ the DSeq-JEPA authors' file

#: a module of the authors' code base, which the loading process does not have
_SCHEDULERS = '''
class WarmupCosineSchedule:
    def __init__(self, warmup, total):
        self.warmup, self.total, self.step_count = warmup, total, 0


class CosineWDSchedule(WarmupCosineSchedule):
    pass
'''


def _save_with_foreign_objects(path, ckpt: dict, tmp_path, **objects) -> str:
    """``torch.save`` ``ckpt`` plus scheduler objects of classes from a module made for the
    occasion and removed from disk and ``sys.modules`` once the file is written, so that nothing can
    import it back; ``objects`` maps a key to (class name, args). Returns the module's name."""
    name = f'authors_src_{uuid.uuid4().hex[:10]}'
    package = tmp_path / name
    package.mkdir()
    (package / '__init__.py').write_text('')
    (package / 'schedulers.py').write_text(_SCHEDULERS)
    sys.path.insert(0, str(tmp_path))
    try:
        module = importlib.import_module(f'{name}.schedulers')
        torch.save(dict(ckpt, **{k: getattr(module, cls)(*args)
                                 for k, (cls, args) in objects.items()}), path)
    finally:
        sys.path.remove(str(tmp_path))
        for mod in (name, f'{name}.schedulers'):
            sys.modules.pop(mod, None)
        shutil.rmtree(package)
        importlib.invalidate_caches()
    assert importlib.util.find_spec(name) is None
    return f'{name}.schedulers'


def _authors_encoder(gen: torch.Generator, dim: int, depth: int, side: int,
                     patch: int) -> dict:
    """Random weights under the DSeq-JEPA authors' encoder keys (SPEC 4i): a table of ``side**2``
    rows without a CLS slot, the CLS token its own key."""
    def rand(*shape, scale=0.05, offset=0.0):
        return torch.randn(*shape, generator=gen) * scale + offset
    sd = {'patch_embed.proj.weight': rand(dim, 3, patch, patch), 'patch_embed.proj.bias': rand(dim),
          'pos_embed': rand(1, side * side, dim, scale=0.5), 'cls_token': rand(1, 1, dim, scale=1),
          'norm.weight': rand(dim, offset=1), 'norm.bias': rand(dim)}
    for i in range(depth):
        shapes = {'norm1.weight': (dim,), 'norm1.bias': (dim,), 'attn.qkv.weight': (3 * dim, dim),
                  'attn.qkv.bias': (3 * dim,), 'attn.proj.weight': (dim, dim),
                  'attn.proj.bias': (dim,), 'norm2.weight': (dim,), 'norm2.bias': (dim,),
                  'mlp.fc1.weight': (4 * dim, dim), 'mlp.fc1.bias': (4 * dim,),
                  'mlp.fc2.weight': (dim, 4 * dim), 'mlp.fc2.bias': (dim,)}
        for key, shape in shapes.items():
            sd[f'blocks.{i}.{key}'] = rand(*shape, offset=float(key.endswith('norm1.weight')
                                                                or key.endswith('norm2.weight')))
    return sd


def _authors_forward(sd: dict, x: torch.Tensor, heads: int, patch: int) -> torch.Tensor:
    """The DSeq-JEPA authors' ViT, written from their definition: patch conv, the table resized
    bicubically by ``scale_factor`` as their code does for square grids, a zero position row for
    the CLS token, pre-norm blocks (qkv attention, MLP with GELU), final LayerNorm (eps 1e-6).
    Returns every token, CLS first."""
    dim = sd['cls_token'].shape[-1]
    tokens = F.conv2d(x, sd['patch_embed.proj.weight'], sd['patch_embed.proj.bias'],
                      stride=patch).flatten(2).transpose(1, 2)
    table, rows, npatch = sd['pos_embed'], sd['pos_embed'].shape[1], tokens.shape[1]
    if npatch != rows:
        side = int(math.sqrt(rows))
        table = F.interpolate(table.reshape(1, side, side, dim).permute(0, 3, 1, 2),
                              scale_factor=math.sqrt(npatch / rows), mode='bicubic')
        table = table.permute(0, 2, 3, 1).reshape(1, -1, dim)
    positions = torch.cat([torch.zeros(1, 1, dim), table], 1)
    x = torch.cat([sd['cls_token'].expand(len(x), -1, -1), tokens], 1) + positions
    b, n, _ = x.shape
    depth = 1 + max(int(k.split('.')[1]) for k in sd if k.startswith('blocks.'))
    for i in range(depth):
        w = {k[len(f'blocks.{i}.'):]: v for k, v in sd.items() if k.startswith(f'blocks.{i}.')}
        h = F.layer_norm(x, (dim,), w['norm1.weight'], w['norm1.bias'], 1e-6)
        qkv = F.linear(h, w['attn.qkv.weight'], w['attn.qkv.bias'])
        q, k, v = qkv.reshape(b, n, 3, heads, dim // heads).permute(2, 0, 3, 1, 4)
        attn = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(dim // heads), dim=-1)
        out = (attn @ v).transpose(1, 2).reshape(b, n, dim)
        x = x + F.linear(out, w['attn.proj.weight'], w['attn.proj.bias'])
        h = F.layer_norm(x, (dim,), w['norm2.weight'], w['norm2.bias'], 1e-6)
        h = F.linear(F.gelu(F.linear(h, w['mlp.fc1.weight'], w['mlp.fc1.bias'])),
                     w['mlp.fc2.weight'], w['mlp.fc2.bias'])
        x = x + h
    return F.layer_norm(x, (dim,), sd['norm.weight'], sd['norm.bias'], 1e-6)


DSEQ = dict(embed_dim=96, depth=3, num_heads=3, patch_size=16, use_cls_token=True)


@pytest.fixture
def dseq_file(tmp_path):
    """The DSeq-JEPA authors' checkpoint of random weights (ViT-tiny-ish, patch 16, a CLS token),
    its scheduler objects of an unimportable class; returns (path, target, context, module)."""
    gen = torch.Generator().manual_seed(0)
    target, context = (_authors_encoder(gen, 96, 3, 14, 16) for _ in range(2))
    ddp = lambda sd: {f'module.{k}': v for k, v in sd.items()}  # noqa: E731
    ckpt = dict(epoch=300, encoder=ddp(context), target_encoder=ddp(target),
                predictor=ddp({'mask_token': torch.zeros(1, 1, 48)}),
                opt={'state': {}, 'param_groups': [{'lr': 1e-3, 'params': [0, 1]}]}, scaler=None)
    path = tmp_path / 'dseqjepa_vit_base_latest.pth'
    module = _save_with_foreign_objects(
        path, ckpt, tmp_path, lr_scheduler=('WarmupCosineSchedule', (40, 300)),
        wd_scheduler=('CosineWDSchedule', (0, 300)), ema_scheduler=('WarmupCosineSchedule', (0, 1)))
    return path, target, context, module


@pytest.mark.parametrize('size', [224, 288])
def test_dseq_release_gives_the_authors_features_cls_included(dseq_file, size):
    path, target, context, module = dseq_file
    x = torch.randn(2, 3, size, size)
    for encoder, weights in (('target', target), ('context', context)):
        vit = JEPAViT(out_indices=(2,), init_cfg=dict(type='Pretrained', checkpoint=str(path),
                                                      encoder=encoder), **DSEQ).eval()
        with pytest.warns(UserWarning, match=rf'{re.escape(str(path))}: read without '
                          rf'{module}.CosineWDSchedule, {module}.WarmupCosineSchedule'):
            vit.init_weights()
        with torch.no_grad():
            (patches, cls), = vit.forward_intermediates(x, 1, norm=True, output_fmt='NLC',
                                                        return_prefix_tokens=True,
                                                        intermediates_only=True)
            expected = _authors_forward(weights, x, heads=3, patch=16)
        torch.testing.assert_close(cls, expected[:, :1], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(patches, expected[:, 1:], atol=1e-5, rtol=1e-5)


def test_dseq_release_through_the_probe(dseq_file):
    """The probe's readouts of the authors' file (built at 288 px: the table resampled on load)."""
    path, target, _, _ = dseq_file
    probe = LinearProbe(dict(type='JEPAViT', out_indices=(2,), img_size=288, init_cfg=dict(
        type='Pretrained', checkpoint=str(path)), **DSEQ), num_classes=3, readouts=('cls', 'avg'))
    with pytest.warns(UserWarning, match='read without'):
        probe.init_weights()
    images = torch.randint(0, 256, (2, 3, 288, 288), dtype=torch.uint8)
    features = probe.extract(images)
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in (IMAGENET_MEAN, IMAGENET_STD))
    expected = _authors_forward(target, (images.float() - mean) / std, heads=3, patch=16)
    torch.testing.assert_close(features['cls'], expected[:, 0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(features['avg'], expected[:, 1:].mean(1), atol=1e-5, rtol=1e-5)


def test_authors_code_never_runs_while_salvaging(tmp_path):
    """An object whose unpickling would run code stands in as an inert placeholder: no import,
    no call; in the weights it is refused."""
    marker = tmp_path / 'ran'

    class Exec:
        def __reduce__(self):
            return exec, (f'open({str(marker)!r}, "w").write("exec")',)

    payload = tmp_path / 'payload.py'
    payload.write_text(f'open({str(marker)!r}, "w").write("run_path")\n')

    class Spawn:
        def __reduce__(self):
            import runpy
            return runpy.run_path, (str(payload),)

    weights = VisionTransformer(**TINY).state_dict()
    ckpt = dict(encoder=weights, predictor={}, target_encoder=weights, lr_scheduler=Exec(),
                hooks=[Spawn()])
    torch.save(ckpt, tmp_path / 'evil.pth')
    with pytest.warns(UserWarning, match=r'read without builtins.exec, runpy.run_path'):
        loaded = read_weights_file(str(tmp_path / 'evil.pth'))
    assert not marker.exists()
    assert repr(loaded['lr_scheduler']) == '<skipped builtins.exec>'
    assert torch.equal(encoder_state_dict(loaded)['norm.weight'], weights['norm.weight'])

    torch.save(dict(ckpt, target_encoder=dict(weights, **{'norm.weight': Spawn()})),
               tmp_path / 'in_weights.pth')
    with pytest.warns(UserWarning, match='read without'):
        loaded = read_weights_file(str(tmp_path / 'in_weights.pth'))
    with pytest.raises(Exception, match=r'refused to load x.pth: the weights hold objects outside '
                       r"the suite's checkpoint allowlist, at norm.weight \(runpy.run_path\)"):
        encoder_state_dict(loaded, source='x.pth')
    assert not marker.exists()


def test_blocked_modules_stay_refused_when_salvaging(tmp_path):
    import os
    marker = tmp_path / 'ran'

    class System:
        def __reduce__(self):
            return os.system, (f'touch {marker}',)

    torch.save({'state_dict': {}, 'hook': System()}, tmp_path / 'evil.pth')
    with pytest.raises(Exception, match=r'refused to load .*evil.pth: it holds posix.system'):
        read_weights_file(str(tmp_path / 'evil.pth'))
    assert not marker.exists()


# ----------------------------------------------------------------------------- timm's families

def _randomise(model: torch.nn.Module) -> None:
    """Tokens, positions, layer-scale gammas and norms to random values, so that a swap shows."""
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1 or 'token' in name or name == 'pos_embed':
                p.copy_(torch.randn(p.shape, generator=gen) * 0.5 + name.endswith('norm.weight'))


def _dinov2_original(sd: dict) -> dict:
    """timm's DINOv2 weights in DINOv2's own names: a mask token, ``register_tokens``, and for a
    register model a table with a slot for the CLS token alone."""
    sd = dict(sd, mask_token=torch.zeros(1, sd['cls_token'].shape[-1]))
    if 'reg_token' in sd:
        slot = torch.randn(1, 1, sd['cls_token'].shape[-1])
        sd['register_tokens'] = sd.pop('reg_token')
        sd['cls_token'] = sd['cls_token'] - slot
        sd['pos_embed'] = torch.cat([slot, sd['pos_embed']], 1)
    return sd


def _deit3_original(sd: dict) -> dict:
    """timm's DeiT III weights as the DeiT repo saves them: ``gamma_1/2``, under ``model``."""
    return {'model': {re.sub(r'ls([12])\.gamma', r'gamma_\1', k): v for k, v in sd.items()}}


#: timm name, its options, JEPAViT's matching options, how the file is written
FAMILIES = {
    'mae': ('vit_base_patch16_224.mae', dict(num_classes=5),
            dict(use_cls_token=True), 'torch:model'),
    'mae_avg_fc_norm': ('vit_base_patch16_224.mae', dict(global_pool='avg'),
                        dict(use_cls_token=True, fc_norm=True), 'safetensors'),
    'dinov2': ('vit_small_patch14_dinov2', {},
               dict(use_cls_token=True, layer_scale_init=1e-5, patch_size=14), 'torch:dinov2'),
    'dinov2_timm': ('vit_small_patch14_dinov2', {},
                    dict(use_cls_token=True, layer_scale_init=1e-5, patch_size=14), 'safetensors'),
    'dinov2_reg4': ('vit_small_patch14_reg4_dinov2', {},
                    dict(use_cls_token=True, layer_scale_init=1e-5, patch_size=14,
                         num_reg_tokens=4), 'safetensors'),
    'dinov2_reg4_original': ('vit_small_patch14_reg4_dinov2', {},
                             dict(use_cls_token=True, layer_scale_init=1e-5, patch_size=14,
                                  num_reg_tokens=4), 'torch:dinov2'),
    'deit3': ('deit3_small_patch16_224', dict(num_classes=10),
              dict(use_cls_token=True, layer_scale_init=1e-6), 'torch:deit3'),
    'deit3_timm_ema': ('deit3_small_patch16_224', {},
                       dict(use_cls_token=True, layer_scale_init=1e-6), 'torch:state_dict_ema'),
}


def _timm_family_file(tmp_path, family: str):
    """A timm model of ``family`` at tiny size with random tokens and gammas, written to disk in
    the family's layout; returns (timm model, path, JEPAViT options)."""
    name, timm_opts, ours, how = FAMILIES[family]
    patch = ours.get('patch_size', 16)
    torch.manual_seed(0)
    ref = timm.create_model(name, pretrained=False, img_size=4 * patch, **TINY, **timm_opts)
    _randomise(ref)
    sd = ref.state_dict()
    path = tmp_path / f'{family}.{"safetensors" if how == "safetensors" else "pth"}'
    if how == 'safetensors':
        safetensors.torch.save_file(sd, str(path))
    else:
        layouts = {'torch:model': lambda s: {'model': s}, 'torch:dinov2': _dinov2_original,
                   'torch:deit3': _deit3_original,
                   'torch:state_dict_ema': lambda s: {
                       'state_dict_ema': {f'module.{k}': v for k, v in s.items()},
                       'state_dict': {k: torch.zeros_like(v) for k, v in s.items()}}}
        torch.save(layouts[how](sd), path)
    return ref.eval(), path, dict(ours, img_size=4 * patch)


def _compare_with_timm(vit: JEPAViT, ref: torch.nn.Module, size: int) -> None:
    """Every block's tokens (prefix included), the final tokens and the pooled feature."""
    images = torch.randint(0, 256, (2, 3, size, size), dtype=torch.uint8)
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in (IMAGENET_MEAN, IMAGENET_STD))
    x = (images.float() - mean) / std
    prefix = ref.num_prefix_tokens > 0  # timm gives maps alone for a model without prefix
    with torch.no_grad():
        final, ours = vit.forward_intermediates(x, [0, 1], return_prefix_tokens=prefix)
        theirs = ref.forward_intermediates(x, indices=[0, 1], return_prefix_tokens=prefix,
                                           intermediates_only=True)
        torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)  # (maps, prefix) each
        features = ref.forward_features(x)
        torch.testing.assert_close(final, features, atol=1e-5, rtol=1e-5)
        pooled = ref.forward_head(features, pre_logits=True)
    readout = 'cls' if ref.global_pool == 'token' else 'avg'
    ours_pooled = probe_features(vit, images, [readout])[readout]
    torch.testing.assert_close(ours_pooled, pooled, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize('family', sorted(FAMILIES))
def test_timm_families_give_timms_features(tmp_path, family):
    ref, path, ours = _timm_family_file(tmp_path, family)
    vit = JEPAViT(out_indices=(0, 1), pos_embed='learned', **TINY, **ours,
                  init_cfg=dict(type='Pretrained', checkpoint=str(path))).eval()
    vit.init_weights()
    _compare_with_timm(vit, ref, ours['img_size'])


@pytest.mark.parametrize('family,missing_option', [
    ('dinov2_reg4', r'num_reg_tokens=4'),
    ('deit3', r'unexpected keys: blocks.0.ls1.gamma.*layer_scale_init \(e.g. 1e-5\)'),
    ('mae_avg_fc_norm', r'missing keys: norm.bias, norm.weight; unexpected keys: fc_norm.bias, '
                        r'fc_norm.weight.*fc_norm=True'),
    ('dinov2_timm', r'patch_size=14 \(the patch-embed kernel is 14x14\)'),
])
def test_a_layout_that_needs_an_option_names_it(tmp_path, family, missing_option):
    _, path, ours = _timm_family_file(tmp_path, family)
    wrong = {'dinov2_reg4': dict(ours, num_reg_tokens=0),
             'deit3': dict(ours, layer_scale_init=None),
             'mae_avg_fc_norm': dict(ours, fc_norm=False),
             'dinov2_timm': dict(ours, patch_size=16, img_size=64)}[family]
    vit = JEPAViT(out_indices=(1,), **TINY, **wrong,
                  init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    with pytest.raises(KeyError, match=rf'{re.escape(str(path))} \(timm ViT state dict\) does not '
                       r'fit the ViT: '
                       rf'.*{missing_option}'):
        vit.init_weights()


# ------------------------------------------------------------------------------------- writers

#: suite encoders the timm writer must carry over exactly
EXPORTS = {
    'cls_registers_layer_scale': dict(use_cls_token=True, num_reg_tokens=2, layer_scale_init=0.1),
    'ijepa_no_cls': {},
    'fc_norm': dict(use_cls_token=True, fc_norm=True),
}


def _suite_encoder(options: dict) -> VisionTransformer:
    torch.manual_seed(0)
    vit = VisionTransformer(img_size=64, **TINY, **options)
    _randomise(vit)
    return vit.eval()


@pytest.mark.parametrize('export', sorted(EXPORTS))
def test_timm_loads_the_written_folder_strictly_both_ways(tmp_path, export):
    vit = _suite_encoder(EXPORTS[export])
    config = save_timm_folder(vit.state_dict(), str(tmp_path / 'timm'), num_heads=4)
    by_name = timm.create_model(
        config['architecture'], pretrained=True, **config['model_args'],
        pretrained_cfg_overlay=dict(file=str(tmp_path / 'timm' / 'model.safetensors')))
    by_folder = timm.create_model(f'local-dir:{tmp_path / "timm"}', pretrained=True)
    for ref in (by_name.eval(), by_folder.eval()):  # timm's load_pretrained is strict
        assert ref.global_pool == ('token' if export == 'cls_registers_layer_scale' else 'avg')
        _compare_with_timm(vit, ref, 64)


@pytest.mark.parametrize('export', sorted(EXPORTS))
def test_suite_timm_suite_round_trip_is_exact(tmp_path, export):
    sd = _suite_encoder(EXPORTS[export]).state_dict()
    save_timm_folder(sd, str(tmp_path / 'timm'), num_heads=4)
    back = encoder_state_dict(read_weights_file(str(tmp_path / 'timm')))
    assert set(back) == set(sd)
    assert all(torch.equal(back[k], v) for k, v in sd.items())


def _suite_pretraining_checkpoint(cls: bool) -> dict:
    """A suite pretraining checkpoint of tiny random networks."""
    torch.manual_seed(0)
    parts = {'target_encoder': VisionTransformer(use_cls_token=cls, **TINY).state_dict(),
             'context_encoder': VisionTransformer(use_cls_token=cls, **TINY).state_dict(),
             'predictor': {'mask_token': torch.randn(1, 1, 32),
                           'predictor_embed.weight': torch.randn(32, 64)}}
    return {'meta': {'epoch': 7}, 'state_dict': {f'{part}.{k}': v for part, sd in parts.items()
                                                 for k, v in sd.items()}}


@pytest.mark.parametrize('layout,cls', [('ijepa', False), ('dseq', True)])
def test_suite_release_suite_round_trip_is_exact(tmp_path, layout, cls):
    ckpt = _suite_pretraining_checkpoint(cls)
    torch.save(to_release(ckpt, layout), tmp_path / 'release.pth.tar')
    release = read_weights_file(str(tmp_path / 'release.pth.tar'))
    assert set(release) == {'encoder', 'predictor', 'target_encoder', 'epoch'}
    assert all(k.startswith('module.') for k in release['target_encoder'])
    assert release['epoch'] == 7
    nets = release_networks(release)
    state = ckpt['state_dict']
    for name, sd in nets.items():
        assert set(f'{name}.{k}' for k in sd) == {k for k in state if k.startswith(f'{name}.')}
        assert all(torch.equal(v, state[f'{name}.{k}']) for k, v in sd.items())
    for encoder in ('target', 'context'):
        assert all(torch.equal(v, nets[f'{encoder}_encoder'][k])
                   for k, v in encoder_state_dict(release, encoder).items())
    other = {'ijepa': 'dseq', 'dseq': 'ijepa'}[layout]
    with pytest.raises(ValueError, match=f'convert with --to {layout}'):
        to_release(ckpt, other, source='ckpt.pth')


@pytest.mark.slow
def test_the_command_writes_the_dseq_and_timm_layouts(tmp_path):
    ckpt = _suite_pretraining_checkpoint(cls=True)
    torch.save(ckpt, tmp_path / 'iter_10.pth')
    for layout, out in (('dseq', 'dseq.pth.tar'), ('timm', 'timm')):
        subprocess.run([sys.executable, f'{ROOT}/tools/convert_checkpoint.py',
                        str(tmp_path / 'iter_10.pth'), str(tmp_path / out), '--to', layout,
                        '--num-heads', '4'], check=True, cwd=ROOT)
    target = {k[len('target_encoder.'):]: v for k, v in ckpt['state_dict'].items()
              if k.startswith('target_encoder.')}
    for out in ('dseq.pth.tar', 'timm'):
        vit = JEPAViT(out_indices=(1,), use_cls_token=True, **TINY, init_cfg=dict(
            type='Pretrained', checkpoint=str(tmp_path / out)))
        vit.init_weights()
        assert all(torch.equal(v, target[k]) for k, v in vit.state_dict().items())
