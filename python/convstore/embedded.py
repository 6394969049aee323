"""The embedded engine: the store's actor running inside this Python process.

`Store(db_url=None, data_dir="data", **settings)` comes from the native module
`convstore._native`, built by maturin from `python/Cargo.toml` when the package is
installed with `pip install ./python`. It is imported here, on first use of
`convstore.Store`, so that an installation without it still offers the remote `Client`.
"""

from __future__ import annotations

from convstore.api import ConvstoreAPI

try:
    from convstore._native import Store  # type: ignore[import-not-found]
except ImportError as error:
    raise ImportError(
        "convstore.Store needs the native module convstore._native, which this installation "
        "does not have; install the package with `pip install ./python` (it builds the module "
        "with the Rust toolchain), or use convstore.Client(url) against a `convstore serve` daemon"
    ) from error

ConvstoreAPI.register(Store)

__all__ = ["Store"]
