"""Approach 1: the training-curve envelope (Hoffmann et al. 2022, section 3.1).

From training curves (RunTable rows with a ``step`` column), the minimum loss over all runs at each FLOP
count, the runs attaining it, and N*(C), D*(C) power laws. Planned for the ingestion issue; the module
boundary is here so `isoflop.fit` keeps one home per approach.
"""
