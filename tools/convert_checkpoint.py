"""Extract the ViT encoder of a checkpoint into another layout.

    python tools/convert_checkpoint.py SRC DST [--to backbone|timm|ijepa] [--encoder target|context]

SRC may be a suite pretraining checkpoint, an official I-JEPA release file or a plain ViT state
dict. ``--to backbone`` writes the plain state dict that ``JEPAViT`` loads; ``--to timm`` writes one
that ``timm.create_model('vit_base_patch16_224', class_token=False, global_pool='avg',
num_classes=0)`` loads with ``strict=True`` (``class_token=True`` for weights with a CLS token).
``--to ijepa`` writes a suite pretraining checkpoint in the layout of the released I-JEPA weights
(``encoder``, ``predictor``, ``target_encoder``, keys prefixed ``module.``), for tools built for
those.
"""
import argparse
import io

import torch
from mmengine.fileio import get_file_backend

from backbones.safe_checkpoint import enable_safe_checkpoints, load_from_local_safely
from backbones.weights import encoder_state_dict, to_ijepa_release, to_timm_state_dict

CONVERTERS = {'backbone': dict, 'timm': to_timm_state_dict}


def main() -> None:
    """Convert the checkpoint the command line names."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('src')
    parser.add_argument('dst')
    parser.add_argument('--to', choices=sorted(CONVERTERS) + ['ijepa'], default='backbone')
    parser.add_argument('--encoder', choices=['target', 'context'], default='target')
    args = parser.parse_args()
    enable_safe_checkpoints()  # the allowlist for the read, atomic local writes for the write
    ckpt = load_from_local_safely(args.src, map_location='cpu')
    if args.to == 'ijepa':
        out = to_ijepa_release(ckpt, source=args.src)
        what = 'context encoder, predictor and target encoder'
    else:
        out = CONVERTERS[args.to](encoder_state_dict(ckpt, args.encoder, source=args.src))
        out = {k: v.contiguous() for k, v in out.items()}
        what = f'{len(out)} tensors of the {args.encoder} encoder'
    buffer = io.BytesIO()
    torch.save(out, buffer)
    get_file_backend(args.dst).put(buffer.getvalue(), args.dst)  # atomic write
    print(f'wrote the {what} ({args.to} layout) to {args.dst}')


if __name__ == '__main__':
    main()
