"""Proxy guidance: keep the student's ImageNet predictions close to the frozen teacher's."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def proxy_guidance_kl(student_logits: torch.Tensor, teacher_log_probs: torch.Tensor) -> torch.Tensor:
    """Eq. 4: batch-mean KL(softmax(M_o(x)) ‖ softmax(θ_o(θ_s(x)))).

    The paper writes the teacher-weighted cross-entropy; it differs from this KL by the
    teacher's entropy, a constant, and the KL is exactly 0 when student = teacher.
    """
    student_log_probs = F.log_softmax(student_logits.float(), dim=1)
    return F.kl_div(student_log_probs, teacher_log_probs, log_target=True, reduction="batchmean")
