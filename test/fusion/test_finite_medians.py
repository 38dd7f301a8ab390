"""fusion.association.finite_medians: the same numbers as ``np.nanmedian``, which it replaces for speed."""

import warnings

import numpy as np
import pytest

from hand_pose_ros.fusion.association import finite_medians


@pytest.mark.parametrize("missing_fraction", [0.0, 0.3, 0.8, 1.0])
def test_finite_medians_equal_nanmedian_bit_for_bit(missing_fraction: float) -> None:
    rng = np.random.default_rng(7)
    values = rng.normal(5.0, 3.0, size=(4, 50, 21))  # px: rows of per-joint errors, leading axes as in the association
    values[rng.random(values.shape) < missing_fraction] = np.nan
    values[0, 0] = np.nan  # a row with nothing finite
    values[0, 1, 1:] = np.nan  # one value
    values[0, 2, 2:] = np.nan  # two values: the mean of both
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # nanmedian warns on the all-NaN rows
        expected = np.nanmedian(values, axis=-1)
    np.testing.assert_array_equal(finite_medians(values), expected)


@pytest.mark.parametrize("shape", [(21,), (0, 21), (3, 0, 21), (6, 1)])
def test_finite_medians_keep_the_leading_shape(shape: tuple[int, ...]) -> None:
    """Any leading shape, none included (a frame without a pair to cost), and one-value rows."""
    rng = np.random.default_rng(11)
    values = rng.normal(size=shape)
    values[rng.random(shape) < 0.3] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = np.nanmedian(values, axis=-1) if values.size else np.zeros(shape[:-1])
    out = finite_medians(values)
    assert out.shape == shape[:-1]
    np.testing.assert_array_equal(out, expected)
