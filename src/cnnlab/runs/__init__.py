"""A finished run as data: checkpoints, atomic writes, the run lock, tasks, loading and evaluating models.
Below ``train`` and ``inspect`` (both read runs from here); may import models, nn, data and below.
"""
