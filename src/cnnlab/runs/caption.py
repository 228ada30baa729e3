"""The "caption" task: token cross-entropy under teacher forcing; scored by greedy captions.

A caption counts as right only if every token, END included, is right (exact-caption accuracy, the
task's headline and what validation monitors); per-token accuracy is the share of the target's tokens
(digits and END, not the padding) that the greedy caption has at the same place.
"""

import numpy as np

from .. import backend, nn
from ..data.scenes import END, PAD
from ..models.captioning import tokens_of
from .evaluation import as_tensor, evaluating
from .task import Task


def token_loss(model):
    """Cross-entropy per token of logits (N, T, V) against tokens (N, T), PAD ignored."""
    ce = nn.CrossEntropyLoss(ignore_index=PAD)

    def loss(logits, captions):
        n, t, v = logits.shape
        return ce(logits.reshape(n * t, v), captions.reshape(n * t))

    return loss


def teacher_forced(model, images, captions):
    """Training forward: step t of the decoder is fed the true token t - 1."""
    return model(images, captions)


def scores(tokens, targets):
    """``(right captions, right tokens, target tokens)`` of greedy tokens against targets (N, T).

    A caption is right when it equals its target at every place, the padding after END included, so
    one that ends early or late is wrong; tokens are counted at the target's digits and END only.
    """
    tokens, targets = np.asarray(tokens), np.asarray(targets)
    real = targets != PAD
    right_tokens = (tokens == targets) & real
    right_captions = (tokens == targets).all(axis=1)
    return int(right_captions.sum()), int(right_tokens.sum()), int(real.sum())


def caption_hits(out, y):
    """Training score of a batch: captions whose teacher-forced arg-max is right at every token."""
    predictions = backend.asnumpy(out._data).argmax(axis=2)                  # (N, T)
    targets = backend.asnumpy(y._data)
    right = int(np.where(targets == PAD, True, predictions == targets).all(axis=1).sum())
    return right, predictions


def evaluate_captions(model, loader, loss_fn=None, parallel=None):
    """Greedy captions of every image in ``loader``: exact-caption and per-token accuracy.

    ``model`` has ``encode`` and ``decode`` (the zoo's captioner). The loss is the teacher-forced one
    (as in training); the captions are decoded greedily from the same encoding. Returns ``loss``,
    ``accuracy`` (exact captions), ``token_accuracy``, ``tokens`` (N, T) and ``targets`` (N, T);
    under ``parallel`` each rank decodes its shard and all gather.
    """
    tokens, targets, loss_sum, count = [], [], 0.0, 0
    with evaluating(model):
        for x, y in loader:
            y = as_tensor(y)
            encoded = model.encode(as_tensor(x))
            if loss_fn is not None:
                loss_sum += float(loss_fn(model.decode(encoded, y), y).item()) * len(y)
            tokens.append(tokens_of(model.decode(encoded)._data, model.end))
            targets.append(backend.asnumpy(y._data))
            count += len(y)
    width = getattr(model, "max_length", 0)
    tokens = np.concatenate(tokens) if tokens else np.zeros((0, width), np.int64)
    targets = np.concatenate(targets) if targets else np.zeros((0, width), np.int64)
    if parallel is not None:
        tokens, targets = parallel.gather(tokens), parallel.gather(targets)
        loss_sum, count = parallel.sum(loss_sum, count)
    right, right_tokens, total_tokens = scores(tokens, targets)
    return {"loss": loss_sum / count if (loss_fn is not None and count) else None,
            "accuracy": right / len(targets) if len(targets) else 0.0,
            "token_accuracy": right_tokens / total_tokens if total_tokens else 0.0,
            "tokens": tokens, "targets": targets, "scores": None}


def caption_line(result):
    return (f"test caption accuracy {result['accuracy'] * 100:.1f}% | "
            f"per-token accuracy {result['token_accuracy'] * 100:.1f}%")


def caption_text(tokens, end=END):
    """Tokens (T,) as the words of a caption ("4 1 7"), stopping at END."""
    words = []
    for t in np.asarray(tokens).tolist():
        if t == end or t == PAD:
            break
        words.append(str(t))
    return " ".join(words)


def accuracy_by_length(result):
    """``{digits: (exact-caption accuracy, scenes)}`` of an evaluation, by the target's digit count."""
    targets, tokens = result["targets"], result["tokens"]
    lengths = ((targets != PAD) & (targets != END)).sum(axis=1)
    right = (tokens == targets).all(axis=1)
    return {int(k): (float(right[lengths == k].mean()), int((lengths == k).sum()))
            for k in np.unique(lengths)}


def token_labels(classes):
    """Names of the caption tokens, index by index: the digits, then END."""
    return [str(d) for d in range(END)] + ["end"]


CAPTION = Task("caption", make_loss=token_loss, forward=teacher_forced, hits=caption_hits,
               evaluate=evaluate_captions, headline=caption_line, labels=token_labels,
               result_keys=(("test_caption_accuracy", "accuracy"),
                            ("test_token_accuracy", "token_accuracy")))
