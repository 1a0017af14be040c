"""Linear heads over hashed features: prediction, fitting, and the weights file.

Three heads, each a logistic model over one sparse row (:mod:`._features`):

* *content*: is this response text harmful, whatever was asked?
* *prompt*: is this request one whose fulfilment is harmful?
* *risk*: which GB/T 45654 risk is the pair about (multinomial)?

Fitting is ridge-penalised maximum likelihood by L-BFGS (scipy), with per-row
weights so that each training source counts equally whatever its size. Weights
are stored as a plain ``.npz`` of numeric and string arrays, read with
``allow_pickle=False``: a weights file can never run code.
"""

from __future__ import annotations

import io
import math
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from llmcert.judges.harm._features import HASH_BUCKETS, RISK_BUCKETS

Row = Mapping[int, float]


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


def _dot(coef: NDArray[np.float32], row: Row) -> float:
    if not row:
        return 0.0
    keys = np.fromiter(row.keys(), dtype=np.int64, count=len(row))
    values = np.fromiter(row.values(), dtype=np.float64, count=len(row))
    return float(coef[keys] @ values)


@dataclass(frozen=True)
class BinaryHead:
    coef: NDArray[np.float32]
    bias: float

    def probability(self, row: Row) -> float:
        return _sigmoid(self.bias + _dot(self.coef, row))


@dataclass(frozen=True)
class HarmModel:
    """The three heads; arrays are read-only after loading."""

    content: BinaryHead
    prompt: BinaryHead
    risk_ids: tuple[str, ...]
    risk_coef: NDArray[np.float32]  # (RISK_BUCKETS, n_risks)
    risk_bias: NDArray[np.float32]

    def risk_probabilities(self, row: Row) -> NDArray[np.float64]:
        logits = self.risk_bias.astype(np.float64).copy()
        if row:
            keys = np.fromiter(row.keys(), dtype=np.int64, count=len(row))
            values = np.fromiter(row.values(), dtype=np.float64, count=len(row))
            logits += values @ self.risk_coef[keys]
        logits -= logits.max()
        p = np.exp(logits)
        return p / p.sum()  # type: ignore[no-any-return]

    def to_npz(self) -> bytes:
        """The weights as ``.npz`` bytes, the same bytes for the same weights (fixed zip dates)."""
        arrays = {
            "content_coef": self.content.coef.astype(np.float32),
            "content_bias": np.array([self.content.bias], dtype=np.float64),
            "prompt_coef": self.prompt.coef.astype(np.float32),
            "prompt_bias": np.array([self.prompt.bias], dtype=np.float64),
            "risk_ids": np.array(self.risk_ids, dtype=np.str_),
            "risk_coef": self.risk_coef.astype(np.float32),
            "risk_bias": self.risk_bias.astype(np.float32),
        }
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for name, array in arrays.items():
                info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                with archive.open(info, "w") as fh:
                    np.lib.format.write_array(fh, np.ascontiguousarray(array), allow_pickle=False)
        return buffer.getvalue()

    @classmethod
    def from_npz(cls, data: bytes) -> HarmModel:
        """Read and check the weights; a wrong shape or a missing array fails loudly."""
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            arrays = {name: z[name] for name in z.files}
        try:
            content = BinaryHead(
                arrays["content_coef"].astype(np.float32), float(arrays["content_bias"][0])
            )
            prompt = BinaryHead(
                arrays["prompt_coef"].astype(np.float32), float(arrays["prompt_bias"][0])
            )
            risk_ids = tuple(str(r) for r in arrays["risk_ids"])
            risk_coef = arrays["risk_coef"].astype(np.float32)
            risk_bias = arrays["risk_bias"].astype(np.float32)
        except KeyError as exc:
            raise ValueError(f"harm weights lack the array {exc}") from None
        for head in (content, prompt):
            if head.coef.shape != (HASH_BUCKETS,):
                raise ValueError(f"head weights must have {HASH_BUCKETS} entries")
        if risk_coef.shape != (RISK_BUCKETS, len(risk_ids)) or risk_bias.shape != (len(risk_ids),):
            raise ValueError("risk weights do not match the listed risks")
        for array in (content.coef, prompt.coef, risk_coef, risk_bias):
            array.setflags(write=False)
        return cls(content, prompt, risk_ids, risk_coef, risk_bias)


@dataclass(frozen=True, slots=True)
class FitSettings:
    """Ridge penalties of the heads; recorded beside the weights they produced."""

    content_l2: float = 1e-4
    prompt_l2: float = 3e-5
    risk_l2: float = 1e-4
    max_iterations: int = 150

    def to_json(self) -> dict[str, Any]:
        return {
            "content_l2": self.content_l2,
            "prompt_l2": self.prompt_l2,
            "risk_l2": self.risk_l2,
            "max_iterations": self.max_iterations,
        }


def _matrix(rows: Sequence[Row], width: int) -> Any:
    from scipy import sparse

    indptr = [0]
    indices: list[int] = []
    values: list[float] = []
    for row in rows:
        indices.extend(row.keys())
        values.extend(row.values())
        indptr.append(len(indices))
    m = sparse.csr_matrix(
        (np.asarray(values), np.asarray(indices, dtype=np.int64), np.asarray(indptr)),
        shape=(len(rows), width),
    )
    m.sum_duplicates()
    return m


def fit_binary(
    rows: Sequence[Row], positive: Sequence[bool], weights: Sequence[float], l2: float, iters: int
) -> BinaryHead:
    """Weighted, ridge-penalised binary logistic regression (L-BFGS)."""
    from scipy.optimize import minimize

    x = _matrix(rows, HASH_BUCKETS)
    y = np.asarray(positive, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    w = w / w.sum()

    def loss(theta: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        coef, bias = theta[:-1], theta[-1]
        z = x @ coef + bias
        value = float(np.sum(w * (np.logaddexp(0.0, z) - y * z))) + 0.5 * l2 * float(coef @ coef)
        err = w * (1.0 / (1.0 + np.exp(-z)) - y)
        grad = np.empty_like(theta)
        grad[:-1] = x.T @ err + l2 * coef
        grad[-1] = err.sum()
        return value, grad

    theta0 = np.zeros(HASH_BUCKETS + 1)
    result = minimize(loss, theta0, jac=True, method="L-BFGS-B", options={"maxiter": iters})
    return BinaryHead(result.x[:-1].astype(np.float32), float(result.x[-1]))


def fit_risk(
    rows: Sequence[Row], risks: Sequence[str], risk_ids: Sequence[str], l2: float, iters: int
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Ridge-penalised multinomial logistic regression over risk rows."""
    from scipy.optimize import minimize

    x = _matrix(rows, RISK_BUCKETS)
    k = len(risk_ids)
    y = np.zeros((len(rows), k))
    for i, r in enumerate(risks):
        y[i, list(risk_ids).index(r)] = 1.0
    n = len(rows)

    def loss(theta: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        coef = theta[: RISK_BUCKETS * k].reshape(RISK_BUCKETS, k)
        bias = theta[RISK_BUCKETS * k :]
        z = x @ coef + bias
        z -= z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        value = -float(np.sum(y * logp)) / n + 0.5 * l2 * float(np.sum(coef * coef))
        err = (np.exp(logp) - y) / n
        grad = np.concatenate([(x.T @ err + l2 * coef).ravel(), err.sum(axis=0)])
        return value, grad

    theta0 = np.zeros(RISK_BUCKETS * k + k)
    result = minimize(loss, theta0, jac=True, method="L-BFGS-B", options={"maxiter": iters})
    coef = result.x[: RISK_BUCKETS * k].reshape(RISK_BUCKETS, k).astype(np.float32)
    return coef, result.x[RISK_BUCKETS * k :].astype(np.float32)
