"""Demonstration-based perceptual rewards (Sermanet, Xu, Levine 2017) and the project's
self-supervised multi-view time-contrastive encoder (TCN, Sermanet et al. 2018)."""
