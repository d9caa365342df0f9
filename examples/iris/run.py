"""The iris_classifier walkthrough: train, compare, promote, and serve from "production".

    pip install -e '.[sklearn,pandas]'      (from a gitreg checkout; the distribution is gitreg-registry)
    cd some-git-repository && gitreg init && python path/to/examples/iris/run.py

Three training runs (one per gamma) each register a new version of iris_classifier with
its accuracy, its training data and its trained SVC. The best goes to staging, then to
production (force: whatever held production is archived). An inference pipeline then
loads the production model and predicts; its predictions are linked to that version.
"""

from __future__ import annotations

from typing import Annotated, Tuple

import pandas as pd
from sklearn.base import ClassifierMixin
from sklearn.datasets import load_iris
from sklearn.model_selection import train_test_split
from sklearn.svm import SVC

from gitreg import ArtifactConfig, Client, Model, ModelStages, get_step_context, log_model_metadata, pipeline, step

iris_classifier = Model(
    "iris_classifier",
    license="Apache-2.0",
    description="Classifies iris flowers into three species from sepal and petal measurements.",
    audience="Botanists sorting field samples",
    use_cases="Sorting iris samples",
    limitations="Three species only; trained on 150 flowers",
    tags=["demo", "tabular"],
)


@step
def training_data_loader() -> Tuple[
    Annotated[pd.DataFrame, "X_train"],
    Annotated[pd.DataFrame, "X_test"],
    Annotated[pd.Series, "y_train"],
    Annotated[pd.Series, "y_test"],
]:
    """The iris data set (shipped with scikit-learn), split 80/20."""
    iris = load_iris(as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(
        iris.data, iris.target, test_size=0.2, shuffle=True, random_state=42)
    return X_train, X_test, y_train, y_test


@step
def svc_trainer(
    X_train: pd.DataFrame, X_test: pd.DataFrame, y_train: pd.Series, y_test: pd.Series, gamma: float = 0.001,
) -> Annotated[ClassifierMixin, "trained_model"]:
    """An SVC; its test accuracy goes on the model version being trained."""
    classifier = SVC(gamma=gamma).fit(X_train.to_numpy(), y_train.to_numpy())
    accuracy = float(classifier.score(X_test.to_numpy(), y_test.to_numpy()))
    log_model_metadata({"accuracy": round(accuracy, 4), "gamma": gamma, "train_rows": len(X_train)})
    return classifier


@pipeline(model=iris_classifier)
def training_pipeline(gamma: float = 0.002):
    X_train, X_test, y_train, y_test = training_data_loader()
    svc_trainer(X_train, X_test, y_train, y_test, gamma=gamma)


@step
def inference_data_loader() -> Annotated[pd.DataFrame, ArtifactConfig(name="inference_data")]:
    """New flowers to classify (here: every tenth flower of the data set)."""
    return load_iris(as_frame=True).data.iloc[::10]


@step
def inference_predict(data: pd.DataFrame) -> Annotated[pd.Series, "predictions"]:
    """Predict with the trained model of the version in production."""
    classifier = get_step_context().model.load_artifact("trained_model")  # skops: hash-verified, no unpickling
    names = load_iris().target_names
    return pd.Series([names[i] for i in classifier.predict(data.to_numpy())], index=data.index, name="species")


@pipeline(model=Model("iris_classifier", version="production"))
def inference_pipeline():
    inference_predict(inference_data_loader())


def main() -> None:
    client = Client()
    for gamma in (0.0001, 0.001, 0.05):
        run = training_pipeline(gamma=gamma)
        [number] = run.versions["iris_classifier"]
        accuracy = client.get_model_version("iris_classifier", number).metadata["accuracy"]
        print(f"run {run.id}: iris_classifier v{number} gamma={gamma} accuracy={accuracy}")

    versions = client.list_model_versions("iris_classifier")
    best = max(versions, key=lambda v: (v.metadata["accuracy"], v.number))
    Model("iris_classifier", version=best.number).set_stage(ModelStages.STAGING, reason="best accuracy of the sweep")
    Model("iris_classifier", version=best.number).set_stage(
        ModelStages.PRODUCTION, force=True, reason="staging looked good")
    print(f"promoted v{best.number} (accuracy {best.metadata['accuracy']}) to staging, then production")

    result = inference_pipeline()
    production = Model("iris_classifier", version="production")
    predictions = production.load_artifact("predictions")
    print(f"inference run {result.id} used v{production.number}; predicted: "
          + ", ".join(f"{k}={v}" for k, v in predictions.value_counts().sort_index().items()))


if __name__ == "__main__":
    main()
