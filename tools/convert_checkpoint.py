"""Convert the ViT encoder of a checkpoint, or a whole pretraining checkpoint, to another layout.

    python tools/convert_checkpoint.py SRC DST [--to backbone|timm|ijepa|dseq]
        [--encoder target|context] [--num-heads N]

SRC is any layout ``JEPAViT`` reads (docs/checkpoints.md): a suite pretraining checkpoint, an
I-JEPA or DSeq-JEPA release file, a timm ViT state dict, a ``.safetensors`` file or a Hugging Face
model folder.

- ``--to backbone``: the plain state dict of the encoder, which ``JEPAViT`` loads.
- ``--to timm``: DST becomes a Hugging Face model folder (``model.safetensors``, ``config.json``)
  that ``timm.create_model('local-dir:DST', pretrained=True)`` loads strictly, as does
  ``timm.create_model(architecture, pretrained=True,
  pretrained_cfg_overlay=dict(file='DST/model.safetensors'), **model_args)`` with the two of its
  ``config.json``. ``--num-heads`` is needed for widths outside the standard sizes.
- ``--to ijepa`` / ``--to dseq``: a suite pretraining checkpoint in the layout of the released
  I-JEPA / DSeq-JEPA weights (``encoder``, ``predictor``, ``target_encoder``, keys prefixed
  ``module.``, ``epoch``), for tools built for those.
"""
import argparse
import io

import torch
from mmengine.fileio import get_file_backend

from backbones.safe_checkpoint import enable_safe_checkpoints
from backbones.weights import (RELEASE_LAYOUTS, encoder_state_dict, read_weights_file,
                               save_timm_folder, to_release)


def main() -> None:
    """Convert the checkpoint the command line names."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('src')
    parser.add_argument('dst')
    parser.add_argument('--to', choices=['backbone', 'timm', *RELEASE_LAYOUTS], default='backbone')
    parser.add_argument('--encoder', choices=['target', 'context'], default='target')
    parser.add_argument('--num-heads', type=int, default=None)
    args = parser.parse_args()
    enable_safe_checkpoints()  # the allowlist for the read, atomic local writes for the write
    ckpt = read_weights_file(args.src)
    if args.to in RELEASE_LAYOUTS:
        out = to_release(ckpt, args.to, source=args.src)
        what = 'context encoder, predictor and target encoder'
    else:
        out = encoder_state_dict(ckpt, args.encoder, source=args.src)
        what = f'{len(out)} tensors of the {args.encoder} encoder'
    if args.to == 'timm':
        save_timm_folder(out, args.dst, args.num_heads, source=args.src)
    else:
        buffer = io.BytesIO()
        torch.save(out, buffer)
        get_file_backend(args.dst).put(buffer.getvalue(), args.dst)  # atomic write
    print(f'wrote the {what} ({args.to} layout) to {args.dst}')


if __name__ == '__main__':
    main()
