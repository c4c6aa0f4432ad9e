"""A regular package, so ``tests.fakes`` and ``tests.support`` import from the root pytest puts on the path.

As a namespace package ``tests`` would lose to any installed distribution that ships a top-level
``tests`` package, wherever it sits on ``sys.path``.
"""
