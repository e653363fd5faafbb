"""The pretraining steps that ``tools/benchmark_pretrain.py`` sets against the suite's: padded rows
under key masks instead of packed rows, and a context encoder run over every token with the hidden
ones masked out of attention (the released DSeq-JEPA code's approach)."""
from typing import Dict, Optional, Sequence

import torch
import torch.nn.functional as F

from pretrain import DSeqJEPA, IJEPA
from pretrain.jepa import gather_tokens
from pretrain.predictor import Predictor

PREDICTOR_DEPTH = {'s': 6, 'b': 6, 'l': 12, 'h': 12}


class MaskedRows:
    """The step with padded rows and key masks instead of packed rows, in the context encoder and
    the predictor. ``full_length``: the context encoder runs over every token, hidden ones masked
    out (the released code's approach); otherwise over the gathered context tokens padded to the
    longest context (this suite before packing)."""
    full_length = False

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.predictor.__class__ = MaskedPredictor  # the same weights, masked attention

    def encode_context(self, images: torch.Tensor, keep: torch.Tensor,
                       keep_valid: Optional[torch.Tensor],
                       image_of: Optional[torch.Tensor] = None,
                       keep_lengths: Optional[Sequence[int]] = None) -> torch.Tensor:
        """Context-encoder outputs (S, L, D) of the ``keep`` patches, padding under a key mask
        (nothing is packed, so ``keep_lengths`` is not needed)."""
        enc = self.context_encoder
        real = torch.ones_like(keep, dtype=torch.bool) if keep_valid is None else keep_valid
        if self.full_length:
            patches = (images.shape[-2] // enc.patch_size) * (images.shape[-1] // enc.patch_size)
            visible = torch.zeros(keep.shape[0], patches, dtype=torch.long, device=keep.device)
            key_mask = visible.scatter_add_(1, keep, real.long()) > 0  # padding entries add nothing
        else:
            key_mask = real
        key_mask = F.pad(key_mask, (enc.num_prefix_tokens, 0), value=True)[:, None, None, :]
        out = enc.forward_masked(images, None if self.full_length else keep, image_of=image_of,
                                 attn_mask=key_mask)[:, enc.num_prefix_tokens:]
        return gather_tokens(out, keep) if self.full_length else out


class MaskedPredictor(Predictor):
    """The predictor with padded sequences under key masks instead of packed sequences."""

    def predict(self, context: torch.Tensor, context_pos: torch.Tensor, query_pos: torch.Tensor,
                attn_mask: Optional[torch.Tensor] = None, valid: Optional[torch.Tensor] = None,
                repeats: int = 1, lengths: Optional[Sequence[int]] = None) -> torch.Tensor:
        """The predictor's pass with ``valid`` as a key mask instead of packed rows."""
        if valid is not None:
            attn_mask = valid[:, None, None, :]
        return super().predict(context, context_pos, query_pos, attn_mask, repeats=repeats)


class PaddedIJEPA(MaskedRows, IJEPA):
    """I-JEPA with padded rows under key masks (the ``padded`` variant)."""


class FullLengthIJEPA(MaskedRows, IJEPA):
    """I-JEPA with a full-length, masked context encoder (the ``full`` variant)."""
    full_length = True


class FullLengthDSeqJEPA(MaskedRows, DSeqJEPA):
    """DSeq-JEPA with a full-length, masked context encoder (the ``dseq-full`` variant)."""
    full_length = True


#: variant -> (model class, extra model arguments)
VARIANTS: Dict[str, tuple] = {
    'gathered': (IJEPA, {}),
    'padded': (PaddedIJEPA, {}),
    'full': (FullLengthIJEPA, {}),
    'dseq-prefix': (DSeqJEPA, dict(mode='prefix', curriculum='off')),
    'dseq-causal': (DSeqJEPA, dict(mode='causal', curriculum='off')),
    'dseq-full': (FullLengthDSeqJEPA, dict(mode='prefix', curriculum='off')),
    'gathered-compiled': (IJEPA, dict(compile_blocks=True)),
    'dseq-prefix-compiled': (DSeqJEPA, dict(mode='prefix', curriculum='off', compile_blocks=True)),
}


def build_variant(name: str, arch: str, img: int, patch: int) -> torch.nn.Module:
    """The model of a variant for a ViT size, image size and patch size, seeded alike for all."""
    cls, extra = VARIANTS[name]
    extra = dict(extra)
    compiled = extra.pop('compile_blocks', False)
    torch.manual_seed(0)
    return cls(encoder=dict(arch=arch, img_size=img, patch_size=patch, compile_blocks=compiled),
               predictor=dict(width=384, depth=PREDICTOR_DEPTH[arch], compile_blocks=compiled),
               **extra)
