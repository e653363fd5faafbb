"""Pieces that every job of the suite shares, whatever it trains: ``engine.files`` (file readers
whose errors name their file), ``engine.checkpoint`` (checkpoints that survive kills and never hold
non-finite weights; importing it registers ``SafeCheckpointHook``, as the configs do),
``engine.resume`` (the checkpoint a resume continues from), ``engine.model`` (the model
inside mmengine's wrappers), ``engine.records`` (the per-image records an evaluation writes),
``engine.visualization`` (the TensorBoard switch) and ``engine.launch`` (what tools/train.py and
tools/test.py do with their arguments). Kept free of heavy imports: each module is
imported where it is needed, and ``engine.resume`` needs no torch."""
