"""Drop-in layers for users of other Python circuit-breaker libraries.

``import failgate.compat.pybreaker as pybreaker`` gives pybreaker 1.4's API over
failgate's lock-free core.
"""
