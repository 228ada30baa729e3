"""A finished run as data: the checkpoint format of a run, atomic writes, the run lock, tasks,
loading a trained model and evaluating it (alone or several as an ensemble).

Sits below ``train`` and ``inspect`` (both read runs from here); imports models, nn, data and below.
"""
