"""A finished run as data: what a task's model is scored on, and evaluating a saved model.

Sits below ``train`` and ``inspect`` (both read runs from here); imports models, nn, data and below.
"""
