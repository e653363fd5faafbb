"""The suite's speed measurements behind ``tools/benchmark_*.py``: the pretraining input pipeline
(``data``), the pretraining step against its variants (``pretrain``, ``step_timing``,
``step_variants``), the Runner against the bare step (``runner``, ``host_reads``), the cached CLEVR
probe (``probe``), the frozen dense probes against UperNet (``dense_probes``) and the paired
bootstrap (``significance``); ``devices`` names and synchronises
the device they run on. Each prints ratios measured side by side in one run."""
