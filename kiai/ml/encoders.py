"""Frame -> float matrix: numeric columns as they are (NULL = NaN), categoricals one-hot with a JSON vocabulary."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from kiai.ml.dataset import Column, Frame

MAX_CATEGORIES = 30  # most frequent values of a categorical in the training part; the rest encode as all zeros


@dataclass
class Encoder:
    """Which raw columns feed the model and how; stored as JSON in the run's manifest."""

    columns: list[Column]
    vocabulary: dict[str, list[str]]

    @property
    def feature_names(self) -> list[str]:
        names: list[str] = []
        for column in self.columns:
            if column.kind == "numeric":
                names.append(column.name)
            else:
                names.extend(f"{column.name}={value}" for value in self.vocabulary[column.name])
        return names

    def groups(self) -> list[tuple[str, list[int]]]:
        """Raw column -> indices of its encoded features (for permutation importance)."""
        result, start = [], 0
        for column in self.columns:
            width = 1 if column.kind == "numeric" else len(self.vocabulary[column.name])
            if width:
                result.append((column.name, list(range(start, start + width))))
            start += width
        return result

    def transform(self, frame: Frame) -> np.ndarray:
        blocks = []
        for column in self.columns:
            data = frame.values[column.name]
            if column.kind == "numeric":
                blocks.append(data.astype(np.float64).reshape(-1, 1))
            else:
                vocab = self.vocabulary[column.name]
                block = np.zeros((len(frame), len(vocab)), dtype=np.float64)
                index = {value: i for i, value in enumerate(vocab)}
                for row, value in enumerate(data):
                    position = index.get(value)
                    if position is not None:
                        block[row, position] = 1.0
                blocks.append(block)
        return np.hstack(blocks) if blocks else np.zeros((len(frame), 0))

    def to_json(self) -> dict[str, Any]:
        return {
            "columns": [{"name": c.name, "kind": c.kind, "sql_type": c.sql_type} for c in self.columns],
            "vocabulary": self.vocabulary,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Encoder:
        columns = [Column(c["name"], c["kind"], c["sql_type"]) for c in data["columns"]]
        return cls(columns, {k: list(v) for k, v in data["vocabulary"].items()})


def fit_encoder(frame: Frame, rows: np.ndarray) -> Encoder:
    """Vocabularies from the training rows only: the most frequent values, ties by value."""
    vocabulary = {}
    for column in frame.columns:
        if column.kind == "categorical":
            counts = Counter(v for v in frame.values[column.name][rows] if v is not None)
            ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:MAX_CATEGORIES]
            vocabulary[column.name] = sorted(value for value, _ in ranked)
    return Encoder(list(frame.columns), vocabulary)
