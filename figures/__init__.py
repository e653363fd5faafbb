"""The suite's pictures behind ``tools/visualize_*.py`` and ``tools/plot_curves.py``: the regions a
DSeq-JEPA checkpoint selects (``checkpoint_regions``, ``regions``), the clusters of its patch
features (``patch_clusters``) and the training curves of a set of runs (``curves``)."""
