"""Pieces that every job of the suite shares, whatever it trains: ``engine.files`` (file readers whose
errors name their file) and ``engine.checkpoint`` (checkpoints that survive kills, resumes that find
them). Kept free of heavy imports: each module is imported where it is needed; configs import
``engine.checkpoint``, which registers ``SafeCheckpointHook``."""
