"""Interrupts that land on step boundaries: SIGINT and SIGTERM become a request the trainer polls.

The handlers exist only while a ``StopRequest`` is active (``Trainer.fit`` holds one for the
duration of training) and the previous handlers come back afterwards, so importing cnnlab changes
nothing in the process. The first signal only sets ``requested``; the trainer finishes the step it
is in and saves a checkpoint. A second signal raises ``Aborted`` at once, wherever the program is:
a checkpoint being written is then abandoned (writes are atomic), so the previous one stays intact.
"""

import signal
import threading

SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM") if hasattr(signal, name))


class Aborted(KeyboardInterrupt):
    """A second interrupt: training stopped at once, without saving the state it held."""


class StopRequest:
    """Context manager: while active, SIGINT/SIGTERM set ``requested`` (the signal's name).

    Handlers can only be installed from the main thread; elsewhere the request works as a plain
    flag (``request()``), and signals keep their previous behaviour.

    Example:
        >>> with StopRequest() as stop:
        ...     while not stop.requested:
        ...         do_one_step()
    """

    def __init__(self, enabled=True):
        self.enabled = enabled
        self.requested = None
        self._previous = {}

    def request(self, reason="SIGINT"):
        """Ask for a stop at the next step boundary; a second request aborts at once."""
        if self.requested is not None:
            raise Aborted(f"second {reason}: stopped at once")
        self.requested = reason

    def _handle(self, signum, frame):
        self.request(signal.Signals(signum).name)

    def __enter__(self):
        self.requested = None
        if self.enabled and threading.current_thread() is threading.main_thread():
            for s in SIGNALS:
                self._previous[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc):
        previous, self._previous = self._previous, {}
        for s, handler in previous.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)
        return False
