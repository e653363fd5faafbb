# The `tiny_protocols` preset: the `tiny` preset (same work dir, data, checkpoints and baseline)
# plus a tiny counterpart of each protocol the papers and the probing literature add (SPEC sections
# 4d-4h) on the synthetic ImageNet-layout folder: full fine-tuning (SPEC 4d), low-shot fine-tuning
# on a class-balanced subset and MSN's few-images-per-class logistic regression (4e), the attentive
# probes, V-JEPA's pooler and EP, on cached patch tokens (4f), and the layer-wise curve (4g); and
# the frozen dense linear probes (4h) over 3 seeds each, on the synthetic ADE20K and on a synthetic
# NYU-Depth v2 (scenes of known depth in the real layout). The
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
# the frozen dense linear probes (SPEC 4h), each run for 3 seeds on every encoder; the table
# shows mean +- std and the interval over the images and the seeds
_dense = [
    dict(name='ade20k_linear', random='dseq', seeds=[0, 1, 2],
         configs=dict(ijepa='configs/seglinear/seglinear_ijepa-vittiny_40iter_synthade.py',
                      dseq='configs/seglinear/seglinear_dseq-vittiny_40iter_synthade.py')),
    dict(name='nyu_linear', random='dseq', seeds=[0, 1, 2],
         configs=dict(ijepa='configs/depthlinear/depthlinear_ijepa-vittiny_40iter_synthnyu.py',
                      dseq='configs/depthlinear/depthlinear_dseq-vittiny_40iter_synthnyu.py')),
]
synthetic = dict(nyu=dict(root='data/suite_tiny/nyu', num_train=32, num_val=24, seed=0))
env = dict(SYNTH_NYU_ROOT='data/suite_tiny/nyu')
transfer = _base_.transfer + _protocols + _dense
