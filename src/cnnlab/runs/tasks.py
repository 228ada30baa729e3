"""The tasks a zoo model can have, by name: classify, segment (detect and caption join here)."""

from .task import Task, miou_line

TASKS = {
    "classify": Task("classify"),
    "segment": Task("segment", headline=miou_line, result_keys=(("test_miou", "mean_iou"),)),
}


def get_task(task):
    """The ``Task`` named ``task`` (a ``Task`` passes through)."""
    if isinstance(task, Task):
        return task
    try:
        return TASKS[task]
    except KeyError:
        raise ValueError(f"get_task: unknown task {task!r}. Known tasks: {', '.join(TASKS)}") from None
