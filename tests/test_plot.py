import matplotlib.pyplot as plt
import numpy as np
import pytest

from npae import SparseAutoencoder, plot
from npae.datasets import load_digits


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def images_in(fig):
    return [im for ax in fig.axes for im in ax.get_images()]


def test_image_grid_shows_every_row_and_hides_the_rest():
    X = np.random.default_rng(0).uniform(size=(7, 64))
    fig = plot.plot_image_grid(X, (8, 8), ncols=3)
    assert len(fig.axes) == 9
    shown = images_in(fig)
    assert len(shown) == 7
    np.testing.assert_array_equal(shown[2].get_array(), X[2].reshape(8, 8))


def test_image_grid_value_range_and_normalize():
    X = np.array([[0.2, 0.4, 0.3, 0.1]])
    fixed = images_in(plot.plot_image_grid(X, (2, 2), value_range=(0, 1)))[0]
    assert fixed.get_clim() == (0, 1)
    scaled = images_in(plot.plot_image_grid(X, (2, 2), normalize=True))[0]
    assert scaled.get_array().min() == 0 and scaled.get_array().max() == 1


def test_reconstructions_one_row_per_model():
    X = np.random.default_rng(0).uniform(size=(5, 64))
    fig = plot.plot_reconstructions(X, {"a": X * 0.5, "b": X * 0.1}, (1, 8, 8), n=4)
    assert len(fig.axes) == 3 * 4
    assert [fig.axes[r * 4].get_ylabel() for r in range(3)] == ["original", "a", "b"]


def test_codes_scatter_and_its_errors():
    Z = np.random.default_rng(0).normal(size=(30, 2))
    fig = plot.plot_codes(Z, labels=np.arange(30) % 3)
    np.testing.assert_array_equal(fig.axes[0].collections[0].get_offsets(), Z)
    with pytest.raises(ValueError, match=r"shape \(n, >=2\), got \(30, 1\)"):
        plot.plot_codes(Z[:, :1])


def test_loss_curves_draw_validation_dashed():
    fig = plot.plot_loss_curves({"ae": {"loss": [3, 2, 1], "val_loss": [4, 3, 2]}})
    solid, dashed = fig.axes[0].get_lines()
    np.testing.assert_array_equal(solid.get_ydata(), [3, 2, 1])
    assert dashed.get_linestyle() == "--"


def test_error_vs_code_size_one_line_per_model():
    fig = plot.plot_error_vs_code_size([2, 4, 8], {"pca": [3, 2, 1], "ae": [2, 1, 0.5]})
    lines = fig.axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["pca", "ae"]
    np.testing.assert_array_equal(lines[1].get_ydata(), [2, 1, 0.5])


def test_filters_are_the_rows_as_filters_returns_them():
    F = np.random.default_rng(0).normal(size=(6, 64))
    shown = images_in(plot.plot_filters(F, (8, 8)))
    assert len(shown) == 6
    row = F[4].reshape(8, 8)
    expected = (row - row.min()) / (row.max() - row.min())
    np.testing.assert_allclose(shown[4].get_array(), expected)


def test_plot_filters_takes_a_models_filters_as_returned():
    X, _, image_shape = load_digits()
    model = SparseAutoencoder(code_size=12, epochs=1, random_state=0).fit(X[:100])
    filters = model.filters()
    shown = images_in(plot.plot_filters(filters, image_shape))
    assert len(shown) == 12
    row = filters[3].reshape(8, 8)
    np.testing.assert_allclose(shown[3].get_array(),
                               (row - row.min()) / (row.max() - row.min()), rtol=1e-12)
    with pytest.raises(ValueError, match=r"expected filters of shape \(n_filters, 64\) for "
                                         r"images of shape \(1, 8, 8\), one filter per row .*"
                                         r"got shape \(64, 12\)"):
        plot.plot_filters(filters.T, image_shape)


