"""opinion-monitor: public-opinion and review keyword monitoring for e-commerce stores.

Data flow of one source run (see ``monitor.pipeline``)::

    fetch -> parse -> normalize -> dedupe -> analyze -> store -> alert -> notify
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
