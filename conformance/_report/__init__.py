"""Compliance reports: per-test evidence, the JSON certificate, the HTML summary, baselines.

The plugin records evidence on each test report (so it crosses pytest-xdist workers), a
`ReportSession` on the controller aggregates it into per-rule results, and at the end of the
session writes the certificate and feeds pytest-html. Nothing here imports a front end
(`plugin`, `cli`); they import these modules inside their hooks, which keeps the plugin cheap.
"""

from __future__ import annotations

__all__: list[str] = []
