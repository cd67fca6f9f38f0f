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




class _Linear2D:
    """A stand-in autoencoder with a 2-D code: decode(z) = z @ D, encode(x) = x @ D.T."""

    code_shape_ = (2,)
    input_shape_ = (4,)
    dtype_ = np.float64

    def __init__(self):
        self.D = np.array([[1.0, 0.0, 0.5, 0.0], [0.0, 1.0, 0.0, 0.5]])

    def transform(self, X):
        return np.asarray(X).reshape(len(X), -1) @ self.D.T

    def inverse_transform(self, Z):
        return np.asarray(Z) @ self.D


def test_code_grid_decodes_the_box_of_the_codes():
    model = _Linear2D()
    X = np.array([[0.0, 0.0, 0, 0], [1.0, 0.5, 0, 0]])
    fig = plot.plot_code_grid(model, X, n=3)
    mosaic = images_in(fig)[0].get_array()
    assert mosaic.shape == (3 * 3 - 1, 3 * 3 - 1)  # three 2x2 images a side, blank lines
    # top-left cell: z = (x_low, y_high) = (0, 0.5); bottom-right: (1, 0)
    np.testing.assert_allclose(mosaic[:2, :2], (np.array([0.0, 0.5]) @ model.D).reshape(2, 2))
    np.testing.assert_allclose(mosaic[-2:, -2:], (np.array([1.0, 0.0]) @ model.D).reshape(2, 2))
    assert fig.axes[0].get_xticklabels()[0].get_text() == "+0.00"


def test_code_grid_refuses_a_wider_code_and_a_missing_box():
    model = _Linear2D()
    with pytest.raises(ValueError, match="needs X .* or limits"):
        plot.plot_code_grid(model)
    model.code_shape_ = (3,)
    with pytest.raises(ValueError, match=r"a 2-D code, got code shape \(3,\)"):
        plot.plot_code_grid(model, limits=((0, 1), (0, 1)))


def test_latent_traversal_one_row_per_unit_one_column_per_value():
    model = _Linear2D()
    fig = plot.plot_latent_traversal(model, np.array([1.0, 2.0, 0, 0]), values=[-1, 0, 1])
    shown = images_in(fig)
    assert len(shown) == 2 * 3
    # row 2 (z2), column 1: code (1, 2) with z2 set to -1
    np.testing.assert_allclose(shown[3].get_array(), (np.array([1.0, -1.0]) @ model.D)
                               .reshape(2, 2))
    assert [fig.axes[0].get_title(loc="left"), fig.axes[3].get_title(loc="left")] == ["z1", "z2"]


def test_vector_field_draws_one_arrow_per_point():
    points = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0]])
    fig = plot.plot_vector_field(points, points * 0.5, data=points)
    quiver = [c for c in fig.axes[0].collections if type(c).__name__ == "Quiver"][0]
    np.testing.assert_allclose(quiver.U, -0.5 * points[:, 0])
    np.testing.assert_allclose(quiver.V, -0.5 * points[:, 1])
    with pytest.raises(ValueError, match=r"same shape \(n, 2\), got \(3, 2\) and \(2, 2\)"):
        plot.plot_vector_field(points, points[:2])


def test_conv_filters_one_image_per_channel_pair():
    W = np.random.default_rng(0).normal(size=(6, 1, 3, 3))
    shown = images_in(plot.plot_conv_filters(W))
    assert len(shown) == 6
    assert shown[2].get_array().shape == (3, 3)
    assert len(images_in(plot.plot_conv_filters(np.ones((4, 2, 3, 3))))) == 8
    with pytest.raises(ValueError, match=r"\(c_out, c_in, kh, kw\), got \(6, 9\)"):
        plot.plot_conv_filters(W.reshape(6, 9))
