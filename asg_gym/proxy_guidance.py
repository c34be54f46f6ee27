"""Proxy guidance: keep the student's ImageNet predictions close to the frozen teacher's."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

# Where the dense guidance of segmentation is computed: Eq. 5's patches, or the released code's whole map.
GuidanceForm = Literal["patches", "whole_map"]
GUIDANCE_FORMS: tuple[GuidanceForm, ...] = ("patches", "whole_map")


def proxy_guidance_kl(student_logits: torch.Tensor, teacher_log_probs: torch.Tensor) -> torch.Tensor:
    """Eq. 4: batch-mean KL(softmax(M_o(x)) ‖ softmax(θ_o(θ_s(x)))).

    The paper writes the teacher-weighted cross-entropy; it differs from this KL by the
    teacher's entropy, a constant, and the KL is exactly 0 when student = teacher.
    """
    student_log_probs = F.log_softmax(student_logits.float(), dim=1)
    return F.kl_div(student_log_probs, teacher_log_probs, log_target=True, reduction="batchmean")


def patch_corners(map_size: tuple[int, int], num_patches: int, patch_size: int, generator: torch.Generator
                  ) -> tuple[int, list[tuple[int, int]]]:
    """``num_patches`` random square patches of a ``map_size`` feature map: (side, top-left corners).

    The side is ``patch_size`` cells, shrunk to the map when the map is smaller.
    """
    height, width = map_size
    side = min(patch_size, height, width)
    tops = torch.randint(0, height - side + 1, (num_patches,), generator=generator).tolist()
    lefts = torch.randint(0, width - side + 1, (num_patches,), generator=generator).tolist()
    return side, list(zip(tops, lefts, strict=True))


def crop_patches(fmap: torch.Tensor, side: int, corners: list[tuple[int, int]]) -> torch.Tensor:
    """``(B, C, h, w)`` → ``(N·B, C, side, side)``, patch-major."""
    return torch.cat([fmap[:, :, top:top + side, left:left + side] for top, left in corners])


def dense_proxy_guidance_kl(student_map: torch.Tensor, teacher_map: torch.Tensor, imagenet_head: torch.nn.Module,
                            side: int, corners: list[tuple[int, int]]) -> torch.Tensor:
    """Eq. 5: the KL of Eq. 4 on patches of the conv5 map, averaged over patches and batch.

    The same patches are cut from the student's and the teacher's map and classified by the frozen
    ImageNet classifier θ_o. With one patch covering the whole map it is the image-level KL.
    """
    student_logits = imagenet_head(crop_patches(student_map, side, corners))
    with torch.no_grad():
        teacher_log_probs = F.log_softmax(imagenet_head(crop_patches(teacher_map, side, corners)).float(), dim=1)
    return proxy_guidance_kl(student_logits, teacher_log_probs)


def whole_map_proxy_guidance_kl(student_map: torch.Tensor, teacher_map: torch.Tensor,
                                imagenet_head: torch.nn.Module) -> torch.Tensor:
    """The released code's segmentation guidance: Eq. 4's KL with θ_o on the whole conv5 map.

    θ_o pools the map as it pools a patch (FCN-VGG16: to 7×7 cells, VGG's input to fc6), so this
    is :func:`dense_proxy_guidance_kl` with one patch that covers the whole map, square or not.
    """
    student_logits = imagenet_head(student_map)
    with torch.no_grad():
        teacher_log_probs = F.log_softmax(imagenet_head(teacher_map).float(), dim=1)
    return proxy_guidance_kl(student_logits, teacher_log_probs)


def cap_guidance(term: torch.Tensor, cap: float | None) -> torch.Tensor:
    """λ·L_KL capped at ``cap`` the way the released segmentation code caps it.

    Above the cap the reference replaces λ by ``cap / L_KL`` (a detached number): the term's value
    becomes ``cap`` and its gradient ``cap/(λ·L_KL)`` times the uncapped one. It is rescaled, not
    cut off; a ``torch.clamp`` would zero the guidance gradient just when the student drifts
    furthest from the teacher. At or below the cap the term is returned bitwise unchanged (the
    factor is exactly 1), and no ``.item()`` sync is needed.
    """
    if cap is None:
        return term
    return term * (cap / term.detach().clamp(min=cap))
