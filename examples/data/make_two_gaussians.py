"""Write two_gaussians.npy: 2,000 points from an equal mixture of two 2-D Gaussians.

This is the kind of data behind the GMM experiment of Shumailov et al. 2024. Rerun to recreate
the file exactly: python examples/data/make_two_gaussians.py
"""

from pathlib import Path

import numpy as np

rng = np.random.default_rng(2024)
n = 2000
component = rng.integers(0, 2, size=n)
means = np.array([[-2.0, 0.0], [2.0, 1.0]])
chol = np.linalg.cholesky(np.array([[[1.0, 0.3], [0.3, 0.5]], [[0.6, -0.2], [-0.2, 1.0]]]))
z = rng.standard_normal((n, 2))
x = means[component] + np.einsum("nij,nj->ni", chol[component], z)
np.save(Path(__file__).with_name("two_gaussians.npy"), x)
