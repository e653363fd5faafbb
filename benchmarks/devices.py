"""What the benchmarks need to know of the device they time."""
import torch


def sync(device: torch.device) -> None:
    """Wait for the device's queued work, so that a timer measures it."""
    if device.type == 'cuda':
        torch.cuda.synchronize()


def describe_device(device: torch.device) -> str:
    """The GPU's name, or the CPU with its thread count."""
    return torch.cuda.get_device_name() if device.type == 'cuda' else \
        f'CPU ({torch.get_num_threads()} threads)'
