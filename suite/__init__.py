"""The suite's stage runner and its reporting behind ``tools/run_suite.py`` and
``tools/leaderboard.py``: presets run stage by stage (``runner``, ``processes``), the runs read back
(``results``), the methods' registry (``methods``), paired intervals (``significance``), the
leaderboard, ablation and compute tables (``leaderboard``, ``ablations``, ``compute``) and their
HTML page (``html_page``). Importing it loads no torch: the runner is a light process."""
