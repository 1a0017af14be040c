"""llmcert: standards-based testing, verification and certification of LLMs.

The package root stays import-light so that ``llmcert --help`` starts fast; import
the concept packages (``llmcert.suites``, ``llmcert.engine`` …) for the API.
"""

from llmcert._version import __version__

__all__ = ["__version__"]
