"""The training tests' tiny configs and runs, shared with the evaluation tests."""

from ..train.conftest import _restore_torch_threads, pretrained_run, tiny_data  # noqa: F401
