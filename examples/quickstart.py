"""gitreg quick start: a model, versions with metadata and artifacts, a promotion.

Run inside a git repository that holds a registry (`gitreg init`), e.g. via
examples/demo.sh, which makes a scratch repository for it.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from gitreg import Client, Model, ModelStages, log_model_metadata


def train(seed: int) -> tuple[dict, float]:
    """Stand-in for training: 'weights' and an accuracy that depends on the seed."""
    rng = random.Random(seed)
    weights = {"w": [round(rng.uniform(-1, 1), 4) for _ in range(4)], "b": round(rng.uniform(-1, 1), 4)}
    return weights, round(0.85 + rng.random() * 0.12, 4)


def main() -> None:
    # A model is created with its card on first use; version=None registers a new version.
    for seed in (1, 2, 3):
        model = Model(
            "iris_classifier",
            license="Apache-2.0",
            description="Classifies iris flowers from sepal and petal measurements.",
            audience="Botanists and the demo's readers",
            use_cases="Sorting iris samples",
            limitations="Three species only",
            tags=["demo", "tabular"],
        )
        weights, accuracy = train(seed)
        model.log_metadata({"accuracy": accuracy, "params": {"seed": seed, "kernel": "linear"}})
        model.save_artifact(weights, "trained_model", type="model")
        model.save_artifact("sepal_length,sepal_width,petal_length,petal_width,species\n", "training_data")
        print(f"registered iris_classifier v{model.number}: accuracy={accuracy}")

    # Metadata can also be logged by name: version None means the latest.
    log_model_metadata({"evaluated_by": "quickstart"}, model_name="iris_classifier")

    # A plain file is an artifact too.
    report = Path("eval_report.json")
    report.write_text(json.dumps({"confusion": [[10, 0, 0], [0, 9, 1], [0, 1, 9]]}))
    client = Client()
    client.add_artifact("iris_classifier", "latest", str(report), "eval_report", type="data")

    # Promote the best version to staging, then to production.
    versions = client.list_model_versions("iris_classifier")
    best = max(versions, key=lambda v: v.metadata["accuracy"])
    Model("iris_classifier", version=best.number).set_stage(ModelStages.STAGING)
    Model("iris_classifier", version=best.number).set_stage(ModelStages.PRODUCTION, force=True)
    print(f"promoted v{best.number} (accuracy {best.metadata['accuracy']}) to production")

    # A deploy script asks for "production", not a number.
    production = Model("iris_classifier", version="production")
    weights = production.load_artifact("trained_model")
    print(f"production is v{production.number}; weights loaded and verified: {weights}")


if __name__ == "__main__":
    main()
