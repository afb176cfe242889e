"""General process reward model (GRM): hop discretisation, three-anchoring progress fusion,
camera-view fusion, pretraining and one-shot adaptation. See DESIGN.md, "General process reward
model", and Robo-Dopamine (Tan et al., 2025)."""
