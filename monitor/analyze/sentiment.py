"""Review sentiment: hashed character n-grams and a linear model (NB-LR); no word segmentation.

Features are the character 1-, 2- and 3-grams of the (already folded) text, hashed into
``2**BITS`` buckets (Fibonacci hashing of the code points, one multiplier per n); each occurrence
is worth ``1 / sqrt(number of n-grams in the text)``. The score is ``bias + sum`` of the bucket
weights and ``prob_positive`` its logistic. Training is NB-LR (logistic regression on features
scaled by their naive-Bayes log-count ratios, folded back into one weight per bucket).
Inference is a handful of numpy operations on the UTF-32 code points (no jieba, no
scikit-learn; ``prob_positive_many`` does a whole batch at once); training uses scikit-learn,
imported lazily inside ``train``.

The model file is a numpy ``.npz`` (loaded with ``allow_pickle=False``) holding ``weights``
(float32, ``2**BITS``), ``bias`` and ``meta`` (a JSON string). The shipped model is
``monitor/analyze/data/sentiment.npz``, built by ``bench/build_sentiment_model.py`` from
redistributable data only.
"""

from __future__ import annotations

import csv
import importlib
import json
import math
import random
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

FORMAT = "monitor-sentiment"
VERSION = 1
BITS = 20
DEFAULT_MODEL_PATH = Path(__file__).with_name("data") / "sentiment.npz"

# Training defaults (bench/build_sentiment_model.py says how they were chosen).
DEFAULT_C = 3.0
DEFAULT_NB_ALPHA = 1.0
PRUNE_BELOW = 0.01  # smaller weights are stored as 0 (the file compresses far better)

_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xC2B2AE3D27D4EB4F)
_M3 = np.uint64(0x165667B19E3779F9)
_SHIFT = np.uint64(64 - BITS)
_S21 = np.uint64(21)
_S42 = np.uint64(42)
_SUM = np.add.reduce  # what ndarray.sum calls, without its Python frames

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Buckets = tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64], npt.NDArray[np.uint64]]
_EMPTY: npt.NDArray[np.uint64] = np.zeros(0, dtype=np.uint64)
_NO_BUCKETS: Buckets = (_EMPTY, _EMPTY, _EMPTY)


def _codes(text: str) -> npt.NDArray[np.uint64]:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)


def _bucket_arrays(
    c: npt.NDArray[np.uint64],
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
    """Bucket of the 1-, 2- and 3-gram starting at each position of the code-point array ``c``."""
    h1 = (c * _M1) >> _SHIFT
    h2 = (((c[:-1] << _S21) | c[1:]) * _M2) >> _SHIFT
    h3 = (((c[:-2] << _S42) | (c[1:-1] << _S21) | c[2:]) * _M3) >> _SHIFT
    return h1, h2, h3


def training_matrix(texts: Sequence[str], what: str) -> tuple[Any, Any]:
    """For training (this module's and ``analyze/problems.py``'s): scikit-learn's
    ``LogisticRegression`` and the texts' hashed n-gram features as a CSR matrix (one row a text).
    ``what`` names the model in the error when scikit-learn is missing."""
    try:
        from sklearn.linear_model import LogisticRegression

        csr_matrix = importlib.import_module("scipy.sparse").csr_matrix
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError(
            f"training {what} needs scikit-learn: pip install 'opinion-monitor[train]'"
        ) from exc
    rows, cols, vals = hashed_features(texts)
    x = csr_matrix((vals, (rows, cols)), shape=(len(texts), 1 << BITS))
    x.sum_duplicates()
    return LogisticRegression, x


def _n_grams(length: int) -> int:
    return length + max(length - 1, 0) + max(length - 2, 0)


def hashed_features(texts: Sequence[str]) -> tuple[IntArray, IntArray, FloatArray]:
    """(row, bucket, value) triples of the feature matrix of ``texts`` (duplicates to be summed).

    Used for training; inference computes the same sums without building the triples."""
    low = [t.lower() for t in texts]
    lens = np.array([len(t) for t in low], dtype=np.int64)
    if not len(low) or not lens.sum():
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    c = _codes("\x00".join(low))
    seg = np.repeat(np.arange(len(low), dtype=np.int64), lens + 1)[: c.size]
    seg[np.cumsum(lens + 1)[:-1] - 1] = -1  # the separators
    h1, h2, h3 = _bucket_arrays(c)
    ok1 = seg >= 0
    ok2 = ok1[:-1] & (seg[:-1] == seg[1:])
    ok3 = ok2[:-1] & (seg[1:-1] == seg[2:])
    rows = np.concatenate([seg[ok1], seg[:-1][ok2], seg[:-2][ok3]])
    cols = np.concatenate([h1[ok1], h2[ok2], h3[ok3]]).astype(np.int64)
    norm = 1.0 / np.sqrt(np.maximum([_n_grams(int(n)) for n in lens], 1))
    return rows, cols, norm[rows]


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


class SentimentModel:
    """P(positive) of a review text. See the module docstring for the model."""

    def __init__(
        self, weights: npt.NDArray[np.float32], bias: float, meta: dict[str, Any] | None = None
    ) -> None:
        if weights.shape != (1 << BITS,):
            raise ValueError(f"weights must have shape ({1 << BITS},), not {weights.shape}")
        self.weights = np.ascontiguousarray(weights, dtype=np.float32)
        self.bias = float(bias)
        self.meta: dict[str, Any] = dict(meta or {})

    # ---- inference -------------------------------------------------------------------------------
    def score(self, text: str) -> float:
        """The linear score (log-odds of positive) of one text."""
        return self.score_buckets(text)[0]

    def score_buckets(self, text: str) -> tuple[float, Buckets]:
        """The linear score of one text and the buckets of its lower-cased 1-, 2- and 3-grams (what
        the problem model, ``analyze/problems.py``, reads too: the analyzer hashes a text once)."""
        t = text.lower()
        n = len(t)
        if n == 0:
            return self.bias, _NO_BUCKETS
        # The buckets of ``_bucket_arrays`` with fewer numpy calls (this runs on every item): the
        # 3-gram key reuses the 2-gram one, ``(c0 << 21 | c1) << 21 | c2``, the same bits. The
        # three sums are the same reductions in the same order, so the score is bit-identical.
        w = self.weights
        c = np.frombuffer(t.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        h1 = (c * _M1) >> _SHIFT
        s = float(_SUM(w[h1], dtype=np.float64))
        h2 = h3 = _EMPTY
        if n > 1:
            pair = (c[:-1] << _S21) | c[1:]
            h2 = (pair * _M2) >> _SHIFT
            s += float(_SUM(w[h2], dtype=np.float64))
            if n > 2:
                h3 = (((pair[:-1] << _S21) | c[2:]) * _M3) >> _SHIFT
                s += float(_SUM(w[h3], dtype=np.float64))
        return self.bias + s / math.sqrt(n + (n - 1) + max(n - 2, 0)), (h1, h2, h3)

    def prob_positive(self, text: str) -> float:
        return _sigmoid(self.score(text))

    def scores(self, texts: Sequence[str]) -> FloatArray:
        """Linear scores of a batch, vectorised over all texts at once."""
        low = [t.lower() for t in texts]
        k = len(low)
        if k == 0:
            return np.zeros(0)
        lens = np.array([len(t) for t in low], dtype=np.int64)
        total = int(lens.sum())
        if total == 0:
            return np.full(k, self.bias)
        w = self.weights
        h1, h2, h3 = _bucket_arrays(_codes("\x00".join(low)))
        v = w[h1].astype(np.float64)
        b2 = w[h2]
        b3 = w[h3]
        ends = np.cumsum(lens + 1)[:-1] - 1  # separator positions
        e1 = ends - 1
        b2[e1[e1 >= 0]] = 0.0  # bigrams that run into a separator
        b3[e1[e1 >= 0]] = 0.0
        e2 = ends - 2
        b3[e2[e2 >= 0]] = 0.0
        v[:-1] += b2
        v[:-2] += b3
        cs = np.concatenate(([0.0], np.cumsum(v)))
        starts = ends + 1
        starts = np.concatenate(([0], starts))
        sums = cs[starts + lens] - cs[starts]
        n = lens + np.maximum(lens - 1, 0) + np.maximum(lens - 2, 0)
        out: FloatArray = self.bias + sums / np.sqrt(np.maximum(n, 1))
        return out

    def prob_positive_many(self, texts: Sequence[str]) -> list[float]:
        z = self.scores(texts)
        p: FloatArray = 0.5 * (1.0 + np.tanh(0.5 * z))  # the logistic, without overflow
        return [float(x) for x in p]

    # ---- persistence -----------------------------------------------------------------------------
    @classmethod
    def load_default(cls) -> SentimentModel:
        """The shipped model (loaded once per process)."""
        return _load_cached(str(DEFAULT_MODEL_PATH))

    @classmethod
    def load(cls, path: Path) -> SentimentModel:
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                fmt = str(z["format"])
                version = int(z["version"])
                bits = int(z["bits"])
                weights = np.asarray(z["weights"], dtype=np.float32)
                bias = float(z["bias"])
                meta_json = str(z["meta"])
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise ValueError(f"{path}: not a readable sentiment model ({exc})") from exc
        if fmt != FORMAT:
            raise ValueError(f"{path}: not a sentiment model file (format must be {FORMAT!r})")
        if version != VERSION or bits != BITS:
            raise ValueError(f"{path}: unsupported sentiment model (version {version}, bits {bits})")
        try:
            meta = json.loads(meta_json)
        except ValueError:
            meta = {}
        return cls(weights, bias, meta if isinstance(meta, dict) else None)

    def save(self, path: Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(
            tmp,
            format=np.str_(FORMAT),
            version=np.int64(VERSION),
            bits=np.int64(BITS),
            weights=self.weights,
            bias=np.float64(self.bias),
            meta=np.str_(json.dumps(self.meta, ensure_ascii=False, sort_keys=True)),
        )
        tmp.replace(path)

    # ---- training --------------------------------------------------------------------------------
    @classmethod
    def train(
        cls,
        texts: Sequence[str],
        labels: Sequence[int],
        *,
        sample_weight: Sequence[float] | None = None,
        c: float = DEFAULT_C,
        nb_alpha: float | None = DEFAULT_NB_ALPHA,
        prune_below: float = PRUNE_BELOW,
    ) -> SentimentModel:
        """Fit on folded ``texts`` with ``labels`` (1 positive, 0 negative). Needs scikit-learn.

        With ``nb_alpha`` (the default) this is NB-LR (Wang & Manning's NBSVM with a logistic loss):
        each bucket is scaled by its naive-Bayes log-count ratio ``r`` (presence counts smoothed by
        ``nb_alpha``) before the L2-regularised logistic regression, and the stored weight is
        ``coef * r``, so inference is unchanged. ``nb_alpha=None`` is plain logistic regression."""
        if len(texts) != len(labels):
            raise ValueError("texts and labels differ in length")
        if sample_weight is not None and len(sample_weight) != len(texts):
            raise ValueError("sample_weight and texts differ in length")
        ys = np.array([int(y) for y in labels], dtype=np.int64)
        if not np.isin(ys, (0, 1)).all():
            raise ValueError("labels must be 0 or 1")
        if len(set(ys.tolist())) < 2:
            raise ValueError("training needs both positive and negative examples")
        LogisticRegression, x = training_matrix(texts, "a sentiment model")
        sw = np.ones(ys.size) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        if nb_alpha is not None:
            present = x.copy()
            present.data[:] = 1.0
            pos = np.asarray(present[ys == 1].T @ sw[ys == 1]).ravel() + nb_alpha
            neg = np.asarray(present[ys == 0].T @ sw[ys == 0]).ravel() + nb_alpha
            ratio = np.log(pos / pos.sum()) - np.log(neg / neg.sum())
            x = x.multiply(ratio).tocsr()
        clf = LogisticRegression(C=c, max_iter=5000, solver="liblinear", random_state=0)
        clf.fit(x, ys, sample_weight=sw)
        coef64 = np.asarray(clf.coef_[0], dtype=np.float64)
        if nb_alpha is not None:
            coef64 = coef64 * ratio
        coef = coef64.astype(np.float32)
        coef[np.abs(coef) < prune_below] = 0.0
        meta = {
            "trained_rows": int(ys.size),
            "positive_rows": int(ys.sum()),
            "negative_rows": int(ys.size - ys.sum()),
            "c": c,
            "nb_alpha": nb_alpha,
        }
        return cls(coef, float(clf.intercept_[0]), meta)


# ---- what the model reads of a review (social posts, emoji, one clause's verdict) -------------------
# Social-post noise the model should not read as opinion: @names, forward chains (//@name:),
# 转发微博, links and the # of hashtags (the topic words stay: #避雷# is an opinion). Removed from the
# raw text, where a name still ends at a space (folding joins 名字 #话题# into one run).
_SOCIAL = re.compile(
    r"(?://)?[@＠][^\s:：,，.。!！?？@＠#＃()（）\[\]【】]{1,30}[:：]?|转发微博|^\s*转发\s*|https?://\S+|[#＃]"
)
_SPACE_RUN = re.compile(r"\s+")
_SOCIAL_HINT = re.compile(r"[@＠#＃]|转发|https?://")
# ``fold`` removes emoji; the commonest opinion emoji are read as a word the model knows. Written by
# hand (not chosen on any evaluation data): faces of anger, crying and disgust, thumbs, hearts
# (one character-class search rules most texts out).
_EMOJI_WORDS = {
    "\U0001f621": "生气",  # 😡
    "\U0001f620": "生气",  # 😠
    "\U0001f624": "生气",  # 😤
    "\U0001f92c": "生气",  # 🤬
    "\U0001f62d": "难过",  # 😭
    "\U0001f622": "难过",  # 😢
    "\U0001f92e": "恶心",  # 🤮
    "\U0001f922": "恶心",  # 🤢
    "\U0001f44e": "差评",  # 👎
    "\U0001f44d": "赞",  # 👍
    "\U0001f970": "喜欢",  # 🥰
    "\U0001f60d": "喜欢",  # 😍
    "\U0001f496": "喜欢",  # 💖
    "\U0001f4af": "满分",  # 💯
}
_EMOJI_HINT = re.compile("[" + "".join(sorted(_EMOJI_WORDS)) + "]")


def sentiment_text(folded: str, raw: str | None = None) -> str:
    """What the sentiment model reads of a folded review: social-post noise out (@names, forward
    chains, 转发微博, links, #), plus a word for each opinion emoji of the raw text (``fold``
    drops emoji). Texts without any of these are returned as they are (one regex search each)."""
    t = folded
    if ("@" in folded or "#" in folded or "转发" in folded or "http" in folded) and _SOCIAL_HINT.search(
        folded
    ):
        if raw is not None:
            from monitor.analyze.text import fold

            t = fold(_SOCIAL.sub(" ", raw))
        else:
            t = _SPACE_RUN.sub(" ", _SOCIAL.sub(" ", folded)).strip()
    if raw and _EMOJI_HINT.search(raw):  # one C-level scan (the emoji are a character class)
        extra = []
        for ch in _EMOJI_HINT.findall(raw)[:20]:
            extra.append(_EMOJI_WORDS[ch])
        t = f"{t} {' '.join(extra)}".strip()
    return t


# Clause-level reading of a review: clauses about another store, person or time are not this
# review's verdict (隔壁那家客服态度差，这家很好), and after a turn (但是, 不过) the last clause weighs
# more. The defaults are what leave-one-category-out cross-validation chose (bench/sentiment_cv.py):
# on online_shopping_10_cats the whole text scored best (dropping other-target clauses cost 0.1 point,
# the turn weight 0.3 point), so the clause reading is off unless asked for.
_CLAUSE_SPLIT = re.compile(r"[,.!?;:。~…\n]+")
_TURN = re.compile(r"(?:但是|可是|然而|不过|可惜|只是|就是|但)(?!是不是)")
DEFAULT_TURN_WEIGHT = 0.0
DEFAULT_DROP_OTHER = False


def review_prob(
    model: SentimentModel,
    text: str,
    *,
    turn_weight: float = DEFAULT_TURN_WEIGHT,
    drop_other: bool = DEFAULT_DROP_OTHER,
    z: float | None = None,
) -> float:
    """P(positive) of a review read clause by clause (see the comment above); a text without
    another target or time and without a turn scores as a whole (one regex search each).
    ``z`` is ``model.score(text)`` when the caller has it already."""
    t = text[:4000]
    if z is None or len(text) > 4000:
        z = model.score(t)
    if not drop_other and turn_weight <= 0:
        return _sigmoid(z)
    from monitor.analyze.context import mentions_other, other_target, other_time

    if drop_other and mentions_other(t):
        clauses = [c for c in _CLAUSE_SPLIT.split(t) if c.strip()]
        kept = [c for c in clauses if not (other_target(c) or other_time(c))]
        if kept and len(kept) < len(clauses):
            t = ",".join(kept)
            z = model.score(t)
    if turn_weight > 0:
        last = None
        for m in _TURN.finditer(t):
            last = m
        if last is not None and last.start() > 0:
            after = t[last.end() :].strip(" ,.!?;:")
            if len(after) >= 2:
                z = (1 - turn_weight) * z + turn_weight * model.score(after)
    return _sigmoid(z)


@lru_cache(maxsize=4)
def _load_cached(path: str) -> SentimentModel:
    return SentimentModel.load(Path(path))


NEUTRAL_HALF = 0.04  # no rating: p within 0.5 ± this is neutral

# Star ratings as evidence, in log-odds of positive: P(positive | stars) for a typical shop.
_STAR_PRIOR = {1: 0.05, 2: 0.12, 3: 0.4, 4: 0.8, 5: 0.92}


def polarity(p_positive: float, rating: int | None) -> tuple[str, float]:
    """Combine the text's P(positive) with a 1-5 star rating when there is one.

    Returns ``("pos" | "neg" | "neu", confidence)``, confidence in [0, 1]: for pos/neg the combined
    probability of that side, for neu how squarely the evidence sits in the neutral band.

    With a rating, text and stars are combined as independent evidence: the text's log-odds plus the
    log-odds of ``_STAR_PRIOR[stars]`` (1★ 0.05, 2★ 0.12, 3★ 0.4, 4★ 0.8, 5★ 0.92), giving ``q``.

    * 1-2 stars pull strongly negative: a 1★ review is "neg" unless its text is clearly positive
      (p > ~0.9 makes it "neu", p > ~0.97 "pos", e.g. a mis-click); 2★ likewise at lower bars.
    * 4-5 stars pull positive, but a clear complaint still wins: a 4★ text with p < ~0.12 is "neg".
    * 3 stars (中评) lean slightly negative and count as a complaint ("neg") at a low bar (q < 0.4,
      i.e. text p < ~0.5); "pos" needs q >= 0.7 (text p >= ~0.78); the rest is "neu".
    * No rating: p >= 0.5 + ``NEUTRAL_HALF`` "pos", p <= 0.5 - ``NEUTRAL_HALF`` "neg", the band
      between "neu" (its width chosen by cross-validation to hold at most 10 % of the items of
      every binary-labelled category, bench/sentiment_cv.py).
    """
    p = min(max(float(p_positive), 1e-6), 1 - 1e-6)
    if rating is None or not 1 <= int(rating) <= 5:
        if p >= 0.5 + NEUTRAL_HALF:
            return "pos", p
        if p <= 0.5 - NEUTRAL_HALF:
            return "neg", 1 - p
        return "neu", 1 - abs(p - 0.5) / NEUTRAL_HALF
    r = int(rating)
    prior = _STAR_PRIOR[r]
    q = _sigmoid(math.log(p / (1 - p)) + math.log(prior / (1 - prior)))
    lo, hi = (0.4, 0.7) if r == 3 else (0.35, 0.65)
    if q < lo:
        return "neg", 1 - q
    if q >= hi:
        return "pos", q
    mid, half = (lo + hi) / 2, (hi - lo) / 2
    return "neu", max(0.0, 1 - abs(q - mid) / half)


# ---- store training from a file (used by `monitor sentiment train` and the benchmark) -------------
class TrainingDataError(ValueError):
    """The training file is missing, malformed, or has too few rows of a class."""


@dataclass
class TrainReport:
    path: Path
    rows_read: int
    positive: int
    negative: int
    skipped: int
    holdout_rows: int
    holdout_accuracy: float | None
    c: float


MIN_PER_CLASS = 20


def _label_of(row: dict[str, Any], where: str, has_rating: bool) -> int | None:
    if has_rating:
        raw = row.get("rating")
        if raw is None or str(raw).strip() == "":
            return None
        try:
            stars = float(str(raw).strip())
        except ValueError as exc:
            raise TrainingDataError(f"{where}: rating {raw!r} is not a number 1-5") from exc
        if not 1 <= stars <= 5:
            raise TrainingDataError(f"{where}: rating {raw!r} is not a number 1-5")
        if stars <= 2:
            return 0
        if stars >= 4:
            return 1
        return None
    raw = row.get("label")
    if raw is None or str(raw).strip() == "":
        return None
    s = str(raw).strip().lower()
    if s in ("1", "1.0", "pos", "positive", "true"):
        return 1
    if s in ("0", "0.0", "neg", "negative", "false"):
        return 0
    raise TrainingDataError(f"{where}: label {raw!r} must be 1 (positive) or 0 (negative)")


def _read_rows(path: Path) -> Iterable[tuple[int, dict[str, Any]]]:
    """(line number, row) pairs from a CSV (header on line 1) or JSONL file."""
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        with path.open(encoding="utf-8-sig") as fh:
            for lineno, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except ValueError as exc:
                    raise TrainingDataError(f"{path}:{lineno}: not valid JSON ({exc})") from exc
                if not isinstance(obj, dict):
                    raise TrainingDataError(f"{path}:{lineno}: each line must be a JSON object")
                yield lineno, obj
        return
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        for row in reader:
            yield reader.line_num, dict(row)


def load_training_file(path: Path) -> tuple[list[str], list[int], int, int]:
    """Read ``text`` plus ``rating`` (1-2 negative, 4-5 positive, 3/missing skipped) or ``label``
    (1/0) from CSV or JSONL. Returns (folded texts, labels, rows read, rows skipped)."""
    from monitor.analyze.text import fold

    path = Path(path)
    if not path.is_file():
        raise TrainingDataError(f"{path}: no such file")
    texts: list[str] = []
    labels: list[int] = []
    read = skipped = 0
    columns_checked = False
    has_rating = False
    try:
        for lineno, row in _read_rows(path):
            where = f"{path}:{lineno}"
            if not columns_checked:
                keys = {k for k in row if k is not None}
                if "text" not in keys:
                    raise TrainingDataError(f"{where}: no 'text' column (found: {', '.join(sorted(keys))})")
                if "rating" not in keys and "label" not in keys:
                    raise TrainingDataError(f"{where}: needs a 'rating' (1-5) or 'label' (1/0) column")
                has_rating = "rating" in keys
                columns_checked = path.suffix.lower() not in (".jsonl", ".ndjson", ".json")
            elif "text" not in row:
                raise TrainingDataError(f"{where}: no 'text' field")
            read += 1
            label = _label_of(row, where, has_rating)
            text = fold(str(row.get("text") or ""))
            if label is None or not text:
                skipped += 1
                continue
            texts.append(text)
            labels.append(label)
    except UnicodeDecodeError as exc:
        raise TrainingDataError(f"{path}: not UTF-8 text ({exc})") from exc
    except csv.Error as exc:
        raise TrainingDataError(f"{path}: malformed CSV ({exc})") from exc
    if read == 0:
        raise TrainingDataError(f"{path}: no data rows")
    return texts, labels, read, skipped


C_GRID = (1.0, 3.0, 10.0, 30.0)
MIN_HOLDOUT_FOR_GRID = 200


def train_from_file(path: Path, *, holdout: float = 0.1, seed: int = 0) -> tuple[SentimentModel, TrainReport]:
    """What ``monitor sentiment train`` does: read and check the file, hold out ``holdout`` of the
    rows (a seeded shuffle) to pick the regularisation ``C`` from ``C_GRID`` (only when the holdout
    has at least ``MIN_HOLDOUT_FOR_GRID`` rows; otherwise ``DEFAULT_C``) and report its accuracy, then
    fit the final model on all rows with that ``C``."""
    texts, labels, read, skipped = load_training_file(path)
    pos = sum(labels)
    neg = len(labels) - pos
    if pos < MIN_PER_CLASS or neg < MIN_PER_CLASS:
        raise TrainingDataError(
            f"{path}: too few usable rows: {pos} positive and {neg} negative; "
            f"at least {MIN_PER_CLASS} of each are needed"
        )
    accuracy: float | None = None
    best_c = DEFAULT_C
    n_hold = int(len(texts) * holdout)
    if n_hold >= 10:
        order = list(range(len(texts)))
        random.Random(seed).shuffle(order)
        hold, fit = order[:n_hold], order[n_hold:]
        fit_texts = [texts[i] for i in fit]
        fit_labels = [labels[i] for i in fit]
        hold_texts = [texts[i] for i in hold]
        if 0 < sum(fit_labels) < len(fit_labels):
            grid = C_GRID if n_hold >= MIN_HOLDOUT_FOR_GRID else (DEFAULT_C,)
            for c in grid:
                trial = SentimentModel.train(fit_texts, fit_labels, c=c)
                probs = trial.prob_positive_many(hold_texts)
                acc = sum((p >= 0.5) == (labels[i] == 1) for p, i in zip(probs, hold, strict=True)) / n_hold
                if accuracy is None or acc > accuracy:
                    accuracy, best_c = acc, c
    model = SentimentModel.train(texts, labels, c=best_c)
    model.meta["source"] = Path(path).name
    report = TrainReport(
        Path(path), read, pos, neg, skipped, n_hold if accuracy is not None else 0, accuracy, best_c
    )
    return model, report
