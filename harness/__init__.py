"""A pytest release gate for fine-tuned sentence-embedding models and their adapters."""

__version__ = "0.1.0"
