"""asg-gym: Automated Synthetic-to-Real Generalization (ICML 2020) as Gymnasium environments."""

from gymnasium.envs.registration import register, registry

__version__ = "0.3.0"  # CHANGELOG.md: what each release changed

# Registered by string entry point so that importing asg_gym stays cheap.
_ENVS = {
    "ASG-Digits-v0": "asg_gym.envs.digits:DigitsEnv",
    "ASG-VisDA-v0": "asg_gym.envs.visda:VisDAEnv",
    "ASG-DigitSeg-v0": "asg_gym.envs.digit_seg:DigitSegEnv",
    "ASG-GTA5-v0": "asg_gym.envs.gta5:GTA5Env",
}

for _env_id, _entry_point in _ENVS.items():
    if _env_id not in registry:
        register(id=_env_id, entry_point=_entry_point, disable_env_checker=False)

__all__ = ["__version__"]
