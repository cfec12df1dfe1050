"""Built-in datasets (registered through ``register_datasets``): digits, mnist-5k, mnist,
image-folder, tensors, toy2d. Build one with ``core.build("dataset", {"type": "digits"})``."""

__all__: list[str] = []
