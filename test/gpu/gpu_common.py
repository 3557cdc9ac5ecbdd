"""Helpers the GPU suites share: poisoned outputs and the relative error."""

import contextlib

import torch


@contextlib.contextmanager
def poisoned_allocations():
    """Inside, torch.empty fills floating-point tensors with NaN and integer ones with
    their maximum (torch.utils.deterministic.fill_uninitialized_memory, on by default),
    so an output element the kernels do not write shows up."""
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(False)


def rel_error(x, ref):
    """||x - ref|| / ||ref|| in float64 (the absolute norm when ref is 0)."""
    diff = (x.double() - ref).norm().item()
    norm = ref.norm().item()
    return diff / norm if norm > 0 else diff
