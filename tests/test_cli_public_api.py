"""Values the command line converts itself (gitreg.cli.usage)."""

from __future__ import annotations

import pytest

from gitreg.cli.app import main


def test_a_bound_is_no_range_for_nan(capsys: pytest.CaptureFixture[str]) -> None:
    # `artifact gc --grace-hours nan` would keep nothing young: NaN compares false with every upload's age
    assert main(["artifact", "gc", "--grace-hours", "nan"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: invalid value for '--grace-hours': nan is not in the range x>=0.0\n"), err
