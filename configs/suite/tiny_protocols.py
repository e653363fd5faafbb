# The `tiny_protocols` preset: the `tiny` preset (same work dir, data, checkpoints and baseline)
# plus a tiny counterpart of each protocol the papers and the probing literature add (SPEC sections
# 4d-4g) on the synthetic ImageNet-layout folder: full fine-tuning (SPEC 4d), low-shot fine-tuning
# on a class-balanced subset and MSN's few-images-per-class logistic regression (4e), the attentive
# probes, V-JEPA's pooler and EP, on cached patch tokens (4f), and the layer-wise curve (4g). The
# 15-minute demo cannot hold them, so they live here: run after the demo
# (bash tools/demo.sh, then python tools/run_suite.py --preset tiny_protocols), every tiny stage is
# done and skipped, only the new ones run, and the leaderboard holds every row of both presets.
_base_ = './tiny.py'

# each task: one config per method; `random` names the config run again without weights; `test`
# evaluates the last checkpoint (fine-tuning) or the head chosen on held-out data (probes) on the
# test split; `train=False`: only tested (the logistic regression fits inside its test loop)
_protocols = [
    dict(name='imagenet_finetune', random='dseq', test=True,
         configs=dict(ijepa='configs/finetune/finetune_ijepa-vittiny_1e_synthimagenet.py',
                      dseq='configs/finetune/finetune_dseq-vittiny_1e_synthimagenet.py')),
    dict(name='imagenet_lowshot_finetune', random='dseq', test=True,
         configs=dict(
             ijepa='configs/lowshot/finetune_ijepa-vittiny_4e_synthimagenet-5pct.py',
             dseq='configs/lowshot/finetune_dseq-vittiny_4e_synthimagenet-5pct.py')),
    dict(name='imagenet_fewshot_logistic', random='dseq', train=False,
         configs=dict(
             ijepa='configs/lowshot/logistic_ijepa-vittiny_1-2-5shot_synthimagenet.py',
             dseq='configs/lowshot/logistic_dseq-vittiny_1-2-5shot_synthimagenet.py')),
    dict(name='imagenet_attentive', random='dseq', test=True,
         configs=dict(ijepa='configs/attentive/attentive_ijepa-vittiny_10e_synthimagenet.py',
                      dseq='configs/attentive/attentive_dseq-vittiny_10e_synthimagenet.py')),
    dict(name='imagenet_ep', random='dseq', test=True,
         configs=dict(ijepa='configs/attentive/ep_ijepa-vittiny_10e_synthimagenet.py',
                      dseq='configs/attentive/ep_dseq-vittiny_10e_synthimagenet.py')),
    dict(name='imagenet_layerwise', random='dseq', test=True,
         configs=dict(ijepa='configs/layerwise/layerwise_ijepa-vittiny_28e_synthimagenet.py',
                      dseq='configs/layerwise/layerwise_dseq-vittiny_28e_synthimagenet.py')),
]
transfer = _base_.transfer + _protocols
