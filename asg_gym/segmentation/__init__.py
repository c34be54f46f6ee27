"""Semantic segmentation: FCNs, dense proxy guidance (Eq. 5), mIoU, and their optimizee."""
