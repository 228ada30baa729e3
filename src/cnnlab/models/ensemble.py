"""Model ensembles: several independently trained networks vote or average their class
probabilities.

Networks trained from different random initialisations make partly independent mistakes, so the
average of their predicted distributions is more often right than any one of them (AlexNet's
7-CNN ensemble cut the top-5 error from 18.2% to 15.3%).
"""

from .. import backend, nn
from ..functional import log, mean, softmax, stack
from ..tensor import Tensor
from ..validation import choice

MODES = ("mean", "vote")


class Ensemble(nn.Module):
    """Combine ``members`` (modules mapping the same input to (N, C) class scores).

    ``mode="mean"`` returns ``log(mean_k softmax(member_k(x)))``: its softmax is the averaged
    probabilities, its argmax the ensemble's prediction, and cross-entropy on it is the ensemble's
    negative log-likelihood. ``mode="vote"`` returns each class's number of member votes (members'
    argmax) plus half the averaged probability, which breaks ties towards the more confident class
    without overturning a majority; its argmax is the majority vote (no gradient flows through it).

    Models with auxiliary heads contribute their main logits.

    Args:
        members: a non-empty list of ``nn.Module``.
        mode: ``"mean"`` or ``"vote"``. Default: ``"mean"``.

    Shape: ``(N, ...) -> (N, C)``.

    Example:
        >>> ens = Ensemble([net1, net2, net3], mode="vote").eval()
        >>> predictions = ens(x).argmax(1)
    """

    def __init__(self, members, mode="mean"):
        super().__init__()
        members = list(members) if isinstance(members, (list, tuple, nn.ModuleList)) else members
        if not isinstance(members, list) or not members:
            raise ValueError(
                f"Ensemble: `members` must be a non-empty list of modules. Received: {members!r}"
            )
        for i, m in enumerate(members):
            if not isinstance(m, nn.Module):
                raise TypeError(
                    f"Ensemble: member {i} must be a cnnlab.nn.Module. Received an object of type "
                    f"{type(m).__name__}"
                )
        self.mode = choice("Ensemble", "mode", mode, MODES)
        self.members = nn.ModuleList(members)

    def _logits(self, x):
        outs = []
        for m in self.members:
            out = m(x)
            outs.append(out[0] if isinstance(out, tuple) else out)
        shapes = {tuple(o.shape) for o in outs}
        if len(shapes) != 1:
            raise ValueError(
                f"Ensemble: the members' outputs differ in shape: {sorted(shapes)}; every member "
                f"must predict the same classes"
            )
        return outs

    def forward(self, x):
        probs = stack([softmax(o, dim=1) for o in self._logits(x)], 0)  # (K, N, C)
        averaged = mean(probs, axis=0)  # (N, C)
        if self.mode == "mean":
            return log(averaged)
        p = probs._data
        xp = backend.get_array_module(p)
        k, n, c = p.shape
        votes = xp.zeros((n, c), dtype=p.dtype)
        for member in p.argmax(axis=2):  # (N,) each
            votes[xp.arange(n), member] += 1
        return Tensor(votes + 0.5 * averaged._data)

    def extra_repr(self):
        return f"mode={self.mode!r}"
