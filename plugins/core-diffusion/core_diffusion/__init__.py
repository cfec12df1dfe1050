"""core-diffusion: DDPM, U-Nets, noise schedules and samplers for core (imports torch lazily)."""

from __future__ import annotations

from core.lazy import lazy_exports

_LAZY = {
    "DDPM": "core_diffusion.ddpm",
    "UNet": "core_diffusion.unet",
    "UNetEncoder": "core_diffusion.unet",
    "UNetFeatures": "core_diffusion.unet_features",
    "DDPMUNet": "core_diffusion.ddpm_unet",
    "DiffusersUNet": "core_diffusion.diffusers_unet",
    "export_diffusers": "core_diffusion.diffusers_export",
    "sinusoidal_embedding": "core_diffusion.layers",
    "NoiseSchedule": "core_diffusion.schedules",
    "LinearSchedule": "core_diffusion.schedules",
    "CosineSchedule": "core_diffusion.schedules",
    "QuadraticSchedule": "core_diffusion.schedules",
    "SigmoidSchedule": "core_diffusion.schedules",
    "Sampler": "core_diffusion.samplers",
    "DDPMSampler": "core_diffusion.samplers",
    "DDIMSampler": "core_diffusion.samplers",
    "DPMSolverPPSampler": "core_diffusion.samplers",
    "DPMSolverPPSDESampler": "core_diffusion.samplers",
    "HeunKarrasSampler": "core_diffusion.samplers",
}

__all__ = [*_LAZY]  # every public name is a lazy export

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
