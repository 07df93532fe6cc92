"""Canary analysis: measure canary and stable over the same window, then judge.

Import the submodules directly; this package stays empty so that importing the models
(``nahtlos.analysis.models``, used by descriptors and blocks) does not load scipy.

- ``models``: AnalysisConfig, WindowStart, WindowStats, MetricsWindow, GateCheck, Judgement
- ``window``: the MetricsProvider protocol and the counter arithmetic of a window
- ``platform_stats`` / ``prometheus``: the two providers
- ``significance``: Fisher's exact test, Mann-Whitney U and Hodges-Lehmann on histograms
- ``judge``: judge() and analyze()
- ``exposition``: the router's metric names
"""
