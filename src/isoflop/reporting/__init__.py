"""Figures and a self-contained HTML report (`plots` needs matplotlib, the `plot` extra; it is imported only
when a figure is drawn, so ``import isoflop.reporting`` stays light)."""

from .html import Report, build_report, render

__all__ = ["build_report", "render", "Report"]
