"""quote-service: prices e-commerce baskets for checkout systems (README.md)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("quote-service")
    """The one version, pyproject.toml's: `quote-service --version`, OpenAPI's `info.version` and
    the serve banner all show it."""
except PackageNotFoundError:  # the source tree on sys.path without the package installed
    __version__ = "0+unknown"
