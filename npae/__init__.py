"""npae: autoencoders in pure NumPy with hand-written backpropagation."""

__version__ = "0.1.0"
