"""Registrations of core-diffusion (hook implementations only; nothing heavy imported)."""

from __future__ import annotations

from typing import Any

from core import hookimpl

_C = "core_diffusion.configs"


@hookimpl
def register_models(register: Any) -> None:
    register(
        "ddpm",
        "core_diffusion.ddpm:DDPM",
        config=f"{_C}:DDPMConfig",
        description="denoising diffusion model around any registered denoising network",
        aliases=["DDPM"],
    )
    register(
        "unet",
        "core_diffusion.unet:UNet",
        config=f"{_C}:UNetConfig",
        description="time-conditioned U-Net: GroupNorm/SiLU res-blocks, optional attention",
        aliases=["UNet"],
    )
    register(
        "ddpm-unet",
        "core_diffusion.ddpm_unet:DDPMUNet",
        config=f"{_C}:DDPMUNetConfig",
        description="the Frameworm DDPM U-Net (14,331,651 parameters at base 128, 3 channels)",
        aliases=["DDPMUNet"],
    )
    register(
        "diffusers-unet",
        "core_diffusion.diffusers_unet:DiffusersUNet",
        config=f"{_C}:DiffusersUNetConfig",
        description="diffusers' UNet2DModel (extra core-diffusion[diffusers]); pretrained: a "
        "local folder",
    )


@hookimpl
def register_noise_schedules(register: Any) -> None:
    register(
        "linear",
        "core_diffusion.schedules:LinearSchedule",
        config=f"{_C}:LinearScheduleConfig",
        description="noise schedule: beta linear from 1e-4 to 0.02",
        aliases=["LinearScheduler"],
    )
    register(
        "cosine",
        "core_diffusion.schedules:CosineSchedule",
        config=f"{_C}:CosineScheduleConfig",
        description="noise schedule: squared-cosine alpha_bar (Nichol & Dhariwal 2021)",
        aliases=["CosineScheduler"],
    )
    register(
        "quadratic",
        "core_diffusion.schedules:QuadraticSchedule",
        config=f"{_C}:QuadraticScheduleConfig",
        description="noise schedule: sqrt(beta) linear",
        aliases=["QuadraticScheduler"],
    )
    register(
        "sigmoid",
        "core_diffusion.schedules:SigmoidSchedule",
        config=f"{_C}:SigmoidScheduleConfig",
        description="noise schedule: beta follows a sigmoid",
        aliases=["SigmoidScheduler"],
    )


@hookimpl
def register_samplers(register: Any) -> None:
    register(
        "ddpm",
        "core_diffusion.samplers:DDPMSampler",
        config=f"{_C}:DDPMSamplerConfig",
        description="ancestral DDPM sampling (T steps, or respaced)",
    )
    register(
        "ddim",
        "core_diffusion.samplers:DDIMSampler",
        config=f"{_C}:DDIMSamplerConfig",
        description="DDIM: any number of steps, eta controls the noise",
    )
    register(
        "dpm-solver++",
        "core_diffusion.samplers:DPMSolverPPSampler",
        config=f"{_C}:DPMSolverConfig",
        description="DPM-Solver++(2M): good samples in 10-25 steps",
        aliases=["dpmsolver++", "dpm-solver"],
    )
    register(
        "dpm-solver++-sde",
        "core_diffusion.samplers:DPMSolverPPSDESampler",
        config=f"{_C}:DPMSolverSDEConfig",
        description="SDE-DPM-Solver++(2M): the reverse SDE, fresh noise every step",
    )
    register(
        "heun-karras",
        "core_diffusion.samplers:HeunKarrasSampler",
        config=f"{_C}:HeunKarrasConfig",
        description="Heun's 2nd-order ODE solver on the Karras sigma grid (EDM), 2N-1 evaluations",
    )


@hookimpl
def register_exporters(register: Any) -> None:
    register(
        "diffusers",
        "core_diffusion.diffusers_export:DiffusersExporter",
        config=f"{_C}:DiffusersExporterConfig",
        description="a ddpm as a diffusers DDPMPipeline folder (model_index.json, unet/, "
        "scheduler/); extra core-diffusion[diffusers]",
    )
