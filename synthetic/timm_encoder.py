"""Stand-ins for released encoders that cannot be downloaded here: a timm model folder
(``config.json`` and ``model.safetensors``, as ``timm.models.save_for_hf`` writes the Hugging Face
folders timm loads) of a randomly initialised timm model, shrunk to the suite's tiny size."""
import timm
import torch
from timm.models import save_for_hf

__all__ = ['make_timm_encoder']


def make_timm_encoder(root: str, model: str = 'vit_small_patch14_reg4_dinov2', seed: int = 0,
                      **model_args) -> None:
    """Write timm's random initialisation (seeded) of ``model`` built with ``model_args`` (the
    size: ``embed_dim``, ``depth``, ``patch_size``, ...) and no classifier to the folder ``root``,
    in timm's own layout: what the suite reads from a released baseline, without its weights'
    worth (a random encoder of that family)."""
    torch.manual_seed(seed)
    net = timm.create_model(model, pretrained=False, num_classes=0, **model_args)
    # the tag of timm's pretrained config would name weights these are not
    save_for_hf(net, root, model_config=dict(pretrained_cfg=dict(tag=f'random_init_seed{seed}')),
                model_args=dict(model_args, num_classes=0), safe_serialization=True)
