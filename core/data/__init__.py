"""Built-in datasets (registered through ``register_datasets``)."""

__all__: list[str] = []
