"""debforge: Debian packages for other releases and architectures, from any x86_64 machine."""

__version__ = "0.1.0"
