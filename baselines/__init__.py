"""Baselines for the cart-pole environments: hand-written ARS and REINFORCE, and Stable-Baselines3 comparisons."""
