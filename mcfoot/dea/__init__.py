"""Data envelopment analysis (DEA), batched over leading (draw) dimensions.

Public API: :func:`efficiency` (CCR/BCC, input/output orientation),
:func:`cross_efficiency` (Doyle & Green 1994 aggressive/benevolent secondary goals) and
:class:`DEAError`. :mod:`mcfoot.dea.reference` is the slow SciPy/HiGHS twin.
"""

from .core import DEAError, cross_efficiency, efficiency

__all__ = ["DEAError", "cross_efficiency", "efficiency"]
