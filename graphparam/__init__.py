"""graphparam: predict the parameters of unseen neural networks from their computation graph."""

__version__ = "0.1.0"
